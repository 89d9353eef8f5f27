package com.limepoint.opschain.dbupgrade.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.dsl.ExecWatch;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterInABoxTest {

  @Test
  void execRunsARealProcessThroughTheFabric8Client() throws Exception {
    try (ClusterInABox box = new ClusterInABox()) {
      box.runPod("ns", "db-0", Map.of("app", "db"), 0);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      try (ExecWatch w =
          box.client()
              .pods()
              .inNamespace("ns")
              .withName("db-0")
              .writingOutput(out)
              .writingError(err)
              .exec("sh", "-c", "printf hello; printf oops >&2; exit 3")) {
        assertThat(w.exitCode().get(10, TimeUnit.SECONDS)).isEqualTo(3);
      }
      assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("hello");
      assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("oops");
      assertThat(box.requests())
          .anyMatch(r -> r.startsWith("GET /api/v1/namespaces/ns/pods/db-0/exec?command=sh"));
    }
  }

  @Test
  // Writes stdin as the worker's PodExec.feed does (redirectingInput, one write is one websocket
  // message, under the 64 KiB frame limit; the worker paces further ones, PodExecFeedIT):
  // fabric8's readingInput pump may still be sending when dd, having its count, ends and the exec
  // closes, and then fails the exit code with "could not send" (seen once in CI).
  void stdinReachesTheProcess(@TempDir Path dir) throws Exception {
    try (ClusterInABox box = new ClusterInABox()) {
      box.runPod("ns", "p", Map.of(), 0);
      Path target = dir.resolve("f");
      byte[] data = "0123456789".repeat(6_000).getBytes(StandardCharsets.UTF_8);
      try (ExecWatch w =
          box.client()
              .pods()
              .inNamespace("ns")
              .withName("p")
              .redirectingInput(data.length)
              .writingOutput(new ByteArrayOutputStream())
              .exec(
                  "dd",
                  "of=" + target,
                  "bs=65536",
                  "iflag=fullblock,count_bytes",
                  "count=" + data.length,
                  "status=none")) {
        OutputStream in = w.getInput();
        in.write(data);
        in.flush();
        assertThat(w.exitCode().get(10, TimeUnit.SECONDS)).isEqualTo(0);
      }
      assertThat(Files.readAllBytes(target)).isEqualTo(data);
    }
  }

  @Test
  void aCutStreamEndsEarlyWithExitCodeZero(@TempDir Path dir) throws Exception {
    try (ClusterInABox box = new ClusterInABox()) {
      box.runPod("ns", "p", Map.of(), 0);
      Path f = dir.resolve("big");
      Files.write(f, new byte[1_000_000]);
      box.cutExecStream("command=dd", 1, 300_000);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (ExecWatch w =
          box.client()
              .pods()
              .inNamespace("ns")
              .withName("p")
              .writingOutput(out)
              .exec("dd", "if=" + f, "bs=65536", "status=none")) {
        assertThat(w.exitCode().get(10, TimeUnit.SECONDS)).isEqualTo(0);
      }
      assertThat(out.size()).isEqualTo(300_000);
    }
  }

  @Test
  void anInjectedServerErrorIsAnsweredOnceAndTheClientRetries() {
    try (ClusterInABox box = new ClusterInABox()) {
      box.failRequest("GET", "/api/v1/namespaces/ns/configmaps", 1, 503);

      assertThat(box.client().configMaps().inNamespace("ns").list().getItems()).isEmpty();
      assertThat(box.requests())
          .filteredOn(r -> r.startsWith("GET /api/v1/namespaces/ns/configmaps"))
          .hasSize(2);
    }
  }

  @Test
  void anInjectedForbiddenReachesTheCaller() {
    try (ClusterInABox box = new ClusterInABox()) {
      box.failRequest("GET", "/api/v1/namespaces/ns/configmaps", 1, 403);
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> box.client().configMaps().inNamespace("ns").list())
          .hasMessageContaining("403");
    }
  }

  @Test
  void aNewPodBecomesRunningAndReady() {
    try (ClusterInABox box = new ClusterInABox()) {
      box.client()
          .pods()
          .inNamespace("ns")
          .resource(
              new io.fabric8.kubernetes.api.model.PodBuilder()
                  .withNewMetadata()
                  .withName("x")
                  .endMetadata()
                  .withNewSpec()
                  .addNewContainer()
                  .withName("c")
                  .withImage("i")
                  .endContainer()
                  .endSpec()
                  .build())
          .create();

      var pod =
          box.client()
              .pods()
              .inNamespace("ns")
              .withName("x")
              .waitUntilCondition(
                  p ->
                      p != null
                          && p.getStatus() != null
                          && "Running".equals(p.getStatus().getPhase()),
                  10,
                  TimeUnit.SECONDS);
      assertThat(pod.getStatus().getConditions())
          .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
    }
  }
}
