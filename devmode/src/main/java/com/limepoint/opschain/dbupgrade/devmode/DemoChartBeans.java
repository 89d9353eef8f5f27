package com.limepoint.opschain.dbupgrade.devmode;

import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Requires;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A production-mode worker of its own for the dev mode's demo cluster ({@code opschain.demo-chart},
 * with the kubeconfig the dev mode writes): Helm is the demo's chart releases, which a dev mode
 * without a worker keeps in the cluster, rendered by the helm binary as in production. Everything
 * else is the production worker. devmode/measure-worker and SeparateWorkerIT run it.
 */
@Factory
@Requires(notEnv = "dev")
@Requires(property = "opschain.demo-chart", value = "true")
public class DemoChartBeans {

  @Singleton
  HelmReleases demoChartReleases(KubernetesClient kube) throws IOException {
    Path dir = Files.createTempDirectory("opschain-demo-chart-");
    return DevBeans.helmReleases(new ChartReleases(kube, ChartReleases.testChart(dir), true));
  }
}
