package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.worker.WorkerRunner;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.micronaut.context.ApplicationContext;
import java.nio.file.Files;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The dev mode without a worker of its own, and a production-mode worker (its own application
 * context: the real Kubernetes client from the kubeconfig the dev mode wrote, the demo's chart
 * releases for Helm) that runs the whole demo through the API server: what devmode/measure-worker
 * uses to measure the worker alone after a demo. The releases are kept in the cluster, where both
 * find them.
 */
class SeparateWorkerIT {

  @Test
  void aWorkerOfItsOwnRunsTheWholeDemoAgainstTheDevModesServerAndCluster() throws Exception {
    DevMode dev =
        DevMode.start(
            "separate-",
            Map.of(
                "opschain.dev-worker", false,
                "opschain.demo-simulated", true,
                "micronaut.server.port", -1));
    ApplicationContext worker = null;
    try {
      assertThat(dev.context().containsBean(WorkerRunner.class)).isFalse();
      DemoCluster demo = dev.context().getBean(DemoCluster.class);
      assertThat(Files.readString(demo.kubeconfig()))
          .contains(demo.activityClient().getMasterUrl().toString());
      ConfigMap stored =
          demo.activityClient()
              .configMaps()
              .inNamespace(DemoCluster.NAMESPACE)
              .withName("chart-releases-opschain")
              .get();
      assertThat(stored.getData()).containsEntry("1.chartVersion", "2025-10-01");

      worker =
          ApplicationContext.builder()
              .properties(
                  Map.of(
                      "opschain.temporal-target",
                      dev.target(),
                      "opschain.kubeconfig",
                      demo.kubeconfig().toString(),
                      "opschain.demo-chart",
                      true,
                      "opschain.host",
                      "separate",
                      "opschain.search-attributes",
                      true,
                      // The production worker's approval policy: the demo approves as demo-user.
                      "opschain.approvers",
                      "demo-user",
                      "opschain.second-approver-gates",
                      "none",
                      "micronaut.server.port",
                      -1))
              .start();
      assertThat(worker.getEnvironment().getActiveNames()).doesNotContain("dev");
      assertThat(worker.containsBean(DemoCluster.class)).isFalse();

      DevMode.DemoRun run = dev.runDemo();
      int code = run.code();
      String printed = run.printed();
      assertThat(code).as(printed).isZero();
      assertThat(printed).contains("revision 2 deployed", "COMPLETED");
      // Helm's work went through the cluster: the upgrade's revisions are stored there.
      assertThat(
              demo.activityClient()
                  .configMaps()
                  .inNamespace(DemoCluster.NAMESPACE)
                  .withName("chart-releases-opschain")
                  .get()
                  .getData())
          .containsKey("3.chartVersion")
          .containsValue("2026-02-10");
    } finally {
      if (worker != null) {
        worker.close();
      }
      dev.close();
    }
  }
}
