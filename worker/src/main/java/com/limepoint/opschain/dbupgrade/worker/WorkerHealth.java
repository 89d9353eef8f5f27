package com.limepoint.opschain.dbupgrade.worker;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micronaut.health.HealthStatus;
import io.micronaut.management.health.indicator.AbstractHealthIndicator;
import io.micronaut.management.health.indicator.annotation.Readiness;
import io.temporal.api.workflowservice.v1.GetSystemInfoRequest;
import io.temporal.serviceclient.WorkflowServiceStubs;
import jakarta.inject.Singleton;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The worker's readiness on {@code /health} (and {@code /health/readiness}): it can do its work
 * only when it reaches the Temporal frontend and the Kubernetes API server. Each check is one cheap
 * read with a short deadline; a failure makes the indicator DOWN with the error as detail.
 */
public final class WorkerHealth {
  private WorkerHealth() {}

  /** GetSystemInfo on the Temporal frontend the worker polls. */
  @Singleton
  @Readiness
  public static class Temporal extends AbstractHealthIndicator<Map<String, Object>> {
    private final WorkflowServiceStubs stubs;
    private final WorkerConfig config;

    public Temporal(WorkflowServiceStubs stubs, WorkerConfig config) {
      this.stubs = stubs;
      this.config = config;
    }

    @Override
    protected Map<String, Object> getHealthInformation() {
      var info =
          stubs
              .blockingStub()
              .withDeadlineAfter(5, TimeUnit.SECONDS)
              .getSystemInfo(GetSystemInfoRequest.getDefaultInstance());
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("target", config.temporalTarget());
      details.put("namespace", config.temporalNamespace());
      details.put("taskQueue", config.taskQueue());
      details.put(
          "serverVersion", info.getServerVersion().isEmpty() ? "unknown" : info.getServerVersion());
      healthStatus = HealthStatus.UP;
      return details;
    }

    @Override
    protected String getName() {
      return "temporal";
    }
  }

  /** GET /version on the API server (allowed to every authenticated user). */
  @Singleton
  @Readiness
  public static class Kubernetes extends AbstractHealthIndicator<Map<String, Object>> {
    private static final java.util.concurrent.Executor PROBES =
        java.util.concurrent.Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("health-kubernetes-", 0).factory());

    private final KubernetesClient client;

    public Kubernetes(KubernetesClient client) {
      this.client = client;
    }

    @Override
    protected Map<String, Object> getHealthInformation() {
      io.fabric8.kubernetes.client.VersionInfo version;
      // On a thread of its own: the common pool may have a single worker (two CPUs), which the
      // JDK HTTP client needs to complete the very request this waits for.
      var call =
          java.util.concurrent.CompletableFuture.supplyAsync(client::getKubernetesVersion, PROBES);
      try {
        // The client retries with back-off; readiness must answer within its probe's timeout.
        version = call.get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        call.cancel(true);
        throw new IllegalStateException(
            "GET /version on " + client.getMasterUrl() + " did not answer within 5 s");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      } catch (java.util.concurrent.ExecutionException e) {
        Throwable root = e;
        while (root.getCause() != null) {
          root = root.getCause();
        }
        throw new IllegalStateException(
            "GET /version on "
                + client.getMasterUrl()
                + " failed: "
                + root.getClass().getSimpleName()
                + (root.getMessage() == null ? "" : ": " + root.getMessage()),
            e);
      }
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("apiServer", client.getMasterUrl().toString());
      details.put("version", version.getGitVersion());
      healthStatus = HealthStatus.UP;
      return details;
    }

    @Override
    protected String getName() {
      return "kubernetes";
    }
  }
}
