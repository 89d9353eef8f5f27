package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import java.util.List;

/** The {@link HelmReleases} port on the cluster-in-a-box's {@link ChartReleases}. */
public final class BoxHelmReleases implements HelmReleases {
  private final ChartReleases releases;

  public BoxHelmReleases(ChartReleases releases) {
    this.releases = releases;
  }

  @Override
  public List<Revision> history(String namespace, String release) {
    return releases.history(namespace, release).stream()
        .map(r -> new Revision(r.revision(), r.status(), r.chartVersion(), r.description()))
        .toList();
  }

  @Override
  public Revision upgrade(HelmCall call) {
    var r = releases.upgrade(toCall(call));
    return new Revision(r.revision(), r.status(), r.chartVersion(), r.description());
  }

  @Override
  public Revision rollback(String namespace, String release, int toRevision, String description) {
    var r = releases.rollback(namespace, release, toRevision, description);
    return new Revision(r.revision(), r.status(), r.chartVersion(), r.description());
  }

  @Override
  public String render(HelmCall call) {
    return releases.render(toCall(call));
  }

  static ChartReleases.Call toCall(HelmCall c) {
    return new ChartReleases.Call(
        c.namespace(),
        c.release(),
        c.version(),
        c.valuesFiles(),
        c.set(),
        c.description(),
        c.waitReady(),
        c.timeoutSeconds(),
        c.atomic());
  }
}
