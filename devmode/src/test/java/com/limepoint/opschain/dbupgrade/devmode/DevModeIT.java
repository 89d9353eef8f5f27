package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.starter.Starter;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The dev mode as a user meets it: the worker's context with the dev Temporal server (temporal
 * server start-dev) and the demo cluster, and {@code starter demo} against it, to COMPLETED; then a
 * graceful stop.
 */
class DevModeIT {

  @Test
  void starterDemoRunsAWholeUpgradeOnTheDevModeWorker() throws Exception {
    com.limepoint.opschain.dbupgrade.testkit.Required.postgres();
    // Payload encryption on, in the worker and in every starter command.
    Path key =
        Files.writeString(
            com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("key-").resolve("payload.key"),
            java.util.Base64.getEncoder()
                .encodeToString(new java.security.SecureRandom().generateSeed(32)));
    DevMode dev =
        DevMode.start(
            "demo-",
            Map.of(
                "opschain.metrics-interval",
                "200ms",
                "opschain.encryption-key-file",
                key.toString(),
                "micronaut.server.port",
                -1));
    ApplicationContext context = dev.context();
    Path demoDir = dev.demoDir();
    EmbeddedServer http = context.getBean(EmbeddedServer.class).start();
    String printed;
    int code;
    int planCode;
    int historyCode;
    int watchCode;
    Response health;
    String probes;
    io.temporal.api.common.v1.Payload storedInput;
    String storedHistory;
    java.util.Set<String> searchAttributes;
    Response metrics;
    try {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      PrintStream original = System.out;
      System.setOut(new PrintStream(buf, true));
      String request = demoDir.resolve("request.json").toString();
      String target = dev.target();
      String keyOption = "--encryption-key-file=" + key;
      try {
        planCode =
            new picocli.CommandLine(new Starter())
                .execute("plan", "--target", target, keyOption, "--request", request);
        code =
            new picocli.CommandLine(new Starter())
                .execute("demo", "--target", target, keyOption, "--request", request);
        historyCode =
            new picocli.CommandLine(new Starter())
                .execute("history", "opschain", "--target", target, keyOption);
        buf.write("\nWATCH:".getBytes());
        watchCode =
            new picocli.CommandLine(new Starter())
                .execute("watch", "opschain", "--target", target, keyOption, "--every", "0.2");
        buf.write("\nJSON:".getBytes());
        new picocli.CommandLine(new Starter())
            .execute("status", "opschain", "--target", target, keyOption, "--output", "json");
      } finally {
        System.setOut(original);
      }
      printed = buf.toString();
      System.out.print(printed);
      assertThat(context.getBean(DemoCluster.class).rows()).isEqualTo("5000");
      health = awaitHealth(http);
      probes =
          get(http, "/health/readiness").status() + " " + get(http, "/health/liveness").status();
      // What the server stores is ciphertext: the started event's input, read without the key.
      var raw =
          io.temporal.serviceclient.WorkflowServiceStubs.newServiceStubs(
              io.temporal.serviceclient.WorkflowServiceStubsOptions.newBuilder()
                  .setTarget(target)
                  .build());
      try {
        var history =
            raw.blockingStub()
                .getWorkflowExecutionHistory(
                    io.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest
                        .newBuilder()
                        .setNamespace("default")
                        .setExecution(
                            io.temporal.api.common.v1.WorkflowExecution.newBuilder()
                                .setWorkflowId("opschain-db-upgrade-opschain"))
                        .build())
                .getHistory();
        storedInput =
            history
                .getEvents(0)
                .getWorkflowExecutionStartedEventAttributes()
                .getInput()
                .getPayloads(0);
        // The search attributes, as the Web UI's filter sees them (the dev mode registered them).
        searchAttributes =
            raw.blockingStub()
                .describeWorkflowExecution(
                    io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest.newBuilder()
                        .setNamespace("default")
                        .setExecution(
                            io.temporal.api.common.v1.WorkflowExecution.newBuilder()
                                .setWorkflowId("opschain-db-upgrade-opschain"))
                        .build())
                .getWorkflowExecutionInfo()
                .getSearchAttributes()
                .getIndexedFieldsMap()
                .keySet();
        storedHistory = history.toString();
      } finally {
        raw.shutdownNow();
      }
      metrics = awaitMetric(http, "temporal_workflow_completed_total");
    } finally {
      long t = System.nanoTime();
      context.close();
      System.out.printf("worker context closed in %d ms%n", (System.nanoTime() - t) / 1_000_000);
    }
    assertThat(planCode).isZero();
    assertThat(printed)
        .contains("PLANNED: dry run", "[destructive] helm upgrade opschain --version 2026-02-10");
    assertThat(code).isZero();
    assertThat(printed)
        .contains(
            "gate START", "approved BACKUP_VERIFIED", "done   awaitLegacyDbGone", "COMPLETED");
    assertThat(historyCode).isZero();
    assertThat(watchCode).isZero();
    String watched = printed.substring(printed.indexOf("WATCH:"), printed.lastIndexOf("JSON:"));
    assertThat(watched)
        .contains(
            "done   takeBackup", "done   awaitLegacyDbGone", "COMPLETED: OpsChain runs 2026-02-10");
    var json =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(printed.substring(printed.lastIndexOf("JSON:") + 5).strip());
    assertThat(json.get("phase").asText()).isEqualTo("COMPLETED");
    assertThat(json.get("steps").size()).isGreaterThan(20);
    assertThat(json.get("approvals").get(0).get("by").asText()).isEqualTo("demo-user");
    assertThat(printed)
        .contains("scheduled TakeBackup", "update approveGate", "completed\n")
        .containsPattern("\\d+ events");

    assertThat(storedInput.getMetadataOrThrow("encoding").toStringUtf8())
        .isEqualTo("binary/encrypted");
    // The values file's secrets: in neither the starter's output nor the stored history.
    for (String secret :
        List.of(
            "demo-db-password-7c1e",
            "DEMO-LICENCE-LINE-ONE-3b9d",
            "DEMO-LICENCE-LINE-TWO-5a0f",
            "demo-url-pass-2e6c",
            "demo-env-secret-91d4")) {
      assertThat(DemoCluster.DEMO_SECRETS).contains(secret);
      assertThat(printed).as("starter output").doesNotContain(secret);
      assertThat(storedHistory).as("stored history").doesNotContain(secret);
    }
    assertThat(storedHistory)
        .doesNotContain("opschain/opschain")
        .doesNotContain("demo-user")
        .doesNotContain("pg_basebackup");
    assertThat(searchAttributes).contains("OpsChainNamespace", "UpgradePhase");
    // /health: ready, with the Temporal frontend and the Kubernetes API both reachable.
    System.out.println("GET /health -> " + health.status() + " " + health.body());
    assertThat(health.status()).isEqualTo(200);
    var h = new com.fasterxml.jackson.databind.ObjectMapper().readTree(health.body());
    assertThat(h.get("status").asText()).isEqualTo("UP");
    assertThat(h.at("/details/temporal/status").asText()).isEqualTo("UP");
    assertThat(h.at("/details/temporal/details/taskQueue").asText())
        .isEqualTo("opschain-db-upgrade");
    assertThat(h.at("/details/kubernetes/status").asText()).isEqualTo("UP");
    // The probes deploy/worker.yaml uses.
    assertThat(probes).isEqualTo("200 200");
    // /prometheus: the Temporal SDK's metrics, after the workflow, beside the JVM's.
    assertThat(metrics.status()).isEqualTo(200);
    assertThat(metrics.body())
        .containsPattern(
            "temporal_workflow_completed_total\\{[^}]*workflow_type=\"DbUpgradeWorkflow\"[^}]*\\} [1-9]")
        .contains("temporal_activity_execution_latency_seconds", "jvm_memory_used_bytes");
  }

  record Response(int status, String body) {}

  private static Response get(EmbeddedServer http, String path) throws Exception {
    var client = java.net.http.HttpClient.newHttpClient();
    var r =
        client.send(
            java.net.http.HttpRequest.newBuilder(http.getURI().resolve(path))
                .timeout(java.time.Duration.ofSeconds(20))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    return new Response(r.statusCode(), r.body());
  }

  /** Asks /health until it is UP (each answer within 5 s), for at most a minute. */
  private static Response awaitHealth(EmbeddedServer http) throws Exception {
    Response r = get(http, "/health");
    for (int i = 0; i < 60 && r.status() != 200; i++) {
      System.out.println("GET /health -> " + r.status() + " " + r.body() + "; asking again");
      Thread.sleep(1000);
      r = get(http, "/health");
    }
    return r;
  }

  /** Scrapes until the metric is there: the SDK reports every 200 ms here. */
  private static Response awaitMetric(EmbeddedServer http, String name) throws Exception {
    Response r = get(http, "/prometheus");
    for (int i = 0; i < 50 && !r.body().contains(name); i++) {
      Thread.sleep(200);
      r = get(http, "/prometheus");
    }
    return r;
  }
}
