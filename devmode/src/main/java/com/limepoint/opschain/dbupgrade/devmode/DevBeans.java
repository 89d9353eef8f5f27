package com.limepoint.opschain.dbupgrade.devmode;

import com.limepoint.opschain.dbupgrade.helm.HelmCall;
import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Requires;
import jakarta.inject.Singleton;
import java.util.List;

/** In the dev mode the activities talk to the demo cluster, and Helm to its chart releases. */
@Factory
@Requires(env = "dev")
public class DevBeans {

  @Singleton
  KubernetesClient demoKubernetesClient(DemoCluster demo) {
    return demo.activityClient();
  }

  @Singleton
  HelmReleases demoHelmReleases(DemoCluster demo) {
    return helmReleases(demo.releases());
  }

  /** The activities' view of the demo's chart releases (rendered by the helm binary). */
  static HelmReleases helmReleases(ChartReleases r) {
    return new HelmReleases() {
      @Override
      public List<Revision> history(String namespace, String release) {
        return r.history(namespace, release).stream().map(DevBeans::revision).toList();
      }

      @Override
      public Revision upgrade(HelmCall c) {
        return revision(r.upgrade(call(c)));
      }

      @Override
      public Revision rollback(
          String namespace, String release, int toRevision, String description) {
        return revision(r.rollback(namespace, release, toRevision, description));
      }

      @Override
      public String render(HelmCall c) {
        return r.render(call(c));
      }
    };
  }

  private static HelmReleases.Revision revision(ChartReleases.Revision r) {
    return new HelmReleases.Revision(r.revision(), r.status(), r.chartVersion(), r.description());
  }

  private static ChartReleases.Call call(HelmCall c) {
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
