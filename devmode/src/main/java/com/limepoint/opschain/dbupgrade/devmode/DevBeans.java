package com.limepoint.opschain.dbupgrade.devmode;

import com.limepoint.opschain.dbupgrade.helm.HelmCall;
import com.limepoint.opschain.dbupgrade.helm.HelmJavaReleases;
import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Requires;
import jakarta.inject.Singleton;
import java.util.List;
import java.util.function.Supplier;

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
    return helmReleases(demo.releases(), true);
  }

  /**
   * The activities' view of the demo's chart releases. When the chart is rendered by helm-java in
   * this JVM ({@code helmInThisJvm}), the JVM's SIGTERM and SIGINT handlers are put back after each
   * call.
   */
  static HelmReleases helmReleases(ChartReleases r, boolean helmInThisJvm) {
    return new HelmReleases() {
      @Override
      public List<Revision> history(String namespace, String release) {
        return r.history(namespace, release).stream().map(DevBeans::revision).toList();
      }

      @Override
      public Revision upgrade(HelmCall c) {
        return revision(helm(() -> r.upgrade(call(c))));
      }

      @Override
      public Revision rollback(
          String namespace, String release, int toRevision, String description) {
        return revision(helm(() -> r.rollback(namespace, release, toRevision, description)));
      }

      @Override
      public String render(HelmCall c) {
        return helm(() -> r.render(call(c)));
      }

      private <T> T helm(Supplier<T> call) {
        return helmInThisJvm ? HelmJavaReleases.keepingShutdownSignals(call) : call.get();
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
