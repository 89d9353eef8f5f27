package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micronaut.health.HealthStatus;
import io.micronaut.management.health.indicator.HealthIndicator;
import io.micronaut.management.health.indicator.HealthResult;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/** The readiness checks say DOWN, with the reason, when what they check cannot be reached. */
class WorkerHealthTest {

  @Test
  void unreachableTemporalAndKubernetesAreDownWithTheError() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    WorkerConfig config =
        new WorkerConfig(
            "127.0.0.1:" + closed,
            "default",
            "opschain-db-upgrade",
            "h1",
            null,
            null,
            null,
            null,
            null,
            "/tmp",
            null,
            null,
            Duration.ofSeconds(1),
            Duration.ofSeconds(10),
            false,
            false,
            false,
            null,
            false,
            Duration.ofMinutes(10),
            null,
            16,
            "helm",
            null,
            null);
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(config.temporalTarget()).build());
    try (KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(
                new ConfigBuilder()
                    .withMasterUrl("http://127.0.0.1:" + closed)
                    .withRequestTimeout(2000)
                    .withConnectionTimeout(2000)
                    .withRequestRetryBackoffLimit(0)
                    .build())
            .build()) {
      HealthResult temporal = check(new WorkerHealth.Temporal(stubs, config));
      HealthResult kubernetes = check(new WorkerHealth.Kubernetes(client));

      assertThat(temporal.getStatus()).isEqualTo(HealthStatus.DOWN);
      assertThat(temporal.getName()).isEqualTo("temporal");
      assertThat(String.valueOf(temporal.getDetails())).containsIgnoringCase("unavailable");
      assertThat(kubernetes.getStatus()).isEqualTo(HealthStatus.DOWN);
      assertThat(String.valueOf(kubernetes.getDetails())).contains(String.valueOf(closed));
    } finally {
      stubs.shutdownNow();
    }
  }

  private static HealthResult check(HealthIndicator indicator) {
    ((io.micronaut.management.health.indicator.AbstractHealthIndicator<?>) indicator)
        .setExecutorService(Executors.newSingleThreadExecutor());
    return Mono.from(indicator.getResult()).block(Duration.ofSeconds(30));
  }
}
