package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import java.util.List;

/** The {@link HelmReleases} port on the cluster-in-a-box's {@link ChartReleases}. */
public final class BoxHelmReleases implements HelmReleases {
  private final ChartReleases releases;
  private volatile int timeoutCapSeconds = Integer.MAX_VALUE;

  public BoxHelmReleases(ChartReleases releases) {
    this.releases = releases;
  }

  /**
   * Scales Helm's clock for a test: every {@code --timeout} longer than this many seconds becomes
   * this many seconds (the 40 minutes of a deploy stand for a few seconds), so that a scenario can
   * make something take longer than Helm waits.
   */
  public void capTimeout(int seconds) {
    timeoutCapSeconds = seconds;
  }

  @Override
  public List<Revision> history(String namespace, String release) {
    return releases.history(namespace, release).stream()
        .map(r -> new Revision(r.revision(), r.status(), r.chartVersion(), r.description()))
        .toList();
  }

  @Override
  public Revision upgrade(HelmCall call) {
    var r = releases.upgrade(toCall(call, timeoutCapSeconds));
    return new Revision(r.revision(), r.status(), r.chartVersion(), r.description());
  }

  @Override
  public Revision rollback(String namespace, String release, int toRevision, String description) {
    var r = releases.rollback(namespace, release, toRevision, description);
    return new Revision(r.revision(), r.status(), r.chartVersion(), r.description());
  }

  @Override
  public String render(HelmCall call) {
    return releases.render(toCall(call, Integer.MAX_VALUE));
  }

  static ChartReleases.Call toCall(HelmCall c, int timeoutCapSeconds) {
    return new ChartReleases.Call(
        c.namespace(),
        c.release(),
        c.version(),
        c.valuesFiles(),
        c.set(),
        c.description(),
        c.waitReady(),
        Math.min(c.timeoutSeconds(), timeoutCapSeconds),
        c.atomic());
  }
}
