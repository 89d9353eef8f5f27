package com.limepoint.opschain.dbupgrade.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ShortLivedPodsTest {

  @ParameterizedTest
  @CsvSource({
    "postgres:15, postgres (PostgreSQL) 15.0 (Debian 15.0-1.pgdg120+1)",
    "postgres:15.6, postgres (PostgreSQL) 15.6 (Debian 15.6-1.pgdg120+1)",
    "docker.io/library/postgres:16.2-bookworm, postgres (PostgreSQL) 16.2 (Debian 16.2-1.pgdg120+1)",
    "postgres:16-alpine, postgres (PostgreSQL) 16.0",
    "ghcr.io/cloudnative-pg/postgresql:16.2, postgres (PostgreSQL) 16.2 (Debian 16.2-1.pgdg120+1)",
    "limepoint/opschain-db:17.5, postgres (PostgreSQL) 17.5 (Debian 17.5-1.pgdg120+1)",
    "postgres:9.6.24, postgres (PostgreSQL) 9.6.24 (Debian 9.6.24-1.pgdg120+1)",
    "registry.local:5000/postgres:14.11@sha256:0123, postgres (PostgreSQL) 14.11 (Debian 14.11-1.pgdg120+1)"
  })
  void aPostgresImagePrintsTheVersionItsTagNames(String image, String line) {
    assertThat(ImageVersions.postgresVersion(image)).isEqualTo(new ImageVersions.Printed(line));
  }

  @Test
  void otherImagesHaveNoPostgresAndUntaggedOnesAreNotGuessed() {
    assertThat(ImageVersions.postgresVersion("busybox:1.36"))
        .isInstanceOf(ImageVersions.NoProgram.class);
    assertThat(ImageVersions.postgresVersion("registry.local:5000/tools"))
        .isInstanceOf(ImageVersions.NoProgram.class);
    assertThat(ImageVersions.postgresVersion("postgres:latest"))
        .isInstanceOf(ImageVersions.Unknown.class);
  }

  @Test
  void theHarnessImageIsThisMachinesPostgres() throws Exception {
    var answer = (ImageVersions.Printed) ImageVersions.postgresVersion(ClusterInABox.RESTORE_IMAGE);
    if (LocalPostgres.available()) {
      Process p =
          new ProcessBuilder(LocalPostgres.BIN.resolve("postgres").toString(), "-V").start();
      String real = new String(p.getInputStream().readAllBytes()).strip();
      assertThat(answer.line()).isEqualTo(real).startsWith("postgres (PostgreSQL) 15.");
    } else {
      assertThat(answer.line()).isEqualTo(SimulatedPostgres.VERSION_LINE);
    }
  }

  @Test
  void aShortLivedPodGoesPendingRunningSucceededAndKeepsItsLog() throws Exception {
    try (ClusterInABox box = new ClusterInABox()) {
      List<String> phases = new CopyOnWriteArrayList<>();
      Watch w = box.client().pods().inNamespace("ns").withName("v").watch(phases(phases));
      box.client().pods().inNamespace("ns").resource(versionPod("v", "postgres:16.2")).create();
      Pod done = awaitPhase(box, "v", "Succeeded");
      // The watch delivers the last event a moment after a read can see it.
      for (int i = 0; i < 100 && !phases.contains("Succeeded"); i++) {
        Thread.sleep(50);
      }
      w.close();

      assertThat(done.getStatus().getContainerStatuses().get(0).getState().getTerminated())
          .satisfies(t -> assertThat(t.getExitCode()).isZero());
      assertThat(box.client().pods().inNamespace("ns").withName("v").getLog())
          .isEqualTo("postgres (PostgreSQL) 16.2 (Debian 16.2-1.pgdg120+1)\n");
      assertThat(phases).containsSubsequence("Pending", "Running", "Succeeded");
    }
  }

  @Test
  void anImageWithoutPostgresFailsAtStartAndAMissingOneStaysPending() throws Exception {
    try (ClusterInABox box = new ClusterInABox()) {
      box.missingImage("postgres:15.99");
      box.client().pods().inNamespace("ns").resource(versionPod("a", "busybox:1.36")).create();
      box.client().pods().inNamespace("ns").resource(versionPod("b", "postgres:15.99")).create();

      Pod failed = awaitPhase(box, "a", "Failed");
      var t = failed.getStatus().getContainerStatuses().get(0).getState().getTerminated();
      assertThat(t.getReason()).isEqualTo("StartError");
      assertThat(t.getExitCode()).isEqualTo(128);
      Pod pending =
          box.client()
              .pods()
              .inNamespace("ns")
              .withName("b")
              .waitUntilCondition(
                  p ->
                      p.getStatus() != null
                          && p.getStatus().getContainerStatuses() != null
                          && p.getStatus().getContainerStatuses().stream()
                              .anyMatch(c ->
                                  c.getState().getWaiting() != null
                                      && "ImagePullBackOff"
                                          .equals(c.getState().getWaiting().getReason())),
                  10,
                  TimeUnit.SECONDS);
      assertThat(pending.getStatus().getPhase()).isEqualTo("Pending");
    }
  }

  @Test
  void aSlowPullKeepsThePodPending() throws Exception {
    try (ClusterInABox box = new ClusterInABox()) {
      box.imagePullTakes("postgres:15.6", Duration.ofSeconds(2));
      box.client().pods().inNamespace("ns").resource(versionPod("s", "postgres:15.6")).create();
      Thread.sleep(1000);
      assertThat(box.client().pods().inNamespace("ns").withName("s").get().getStatus().getPhase())
          .isEqualTo("Pending");
      awaitPhase(box, "s", "Succeeded");
    }
  }

  static Pod versionPod(String name, String image) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        .addNewContainer()
        .withName("c")
        .withImage(image)
        .withCommand("postgres", "--version")
        .endContainer()
        .endSpec()
        .build();
  }

  private static Pod awaitPhase(ClusterInABox box, String name, String phase) {
    return box.client()
        .pods()
        .inNamespace("ns")
        .withName(name)
        .waitUntilCondition(
            p -> p != null && p.getStatus() != null && phase.equals(p.getStatus().getPhase()),
            10,
            TimeUnit.SECONDS);
  }

  private static Watcher<Pod> phases(List<String> out) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        if (pod.getStatus() != null && pod.getStatus().getPhase() != null) {
          String phase = pod.getStatus().getPhase();
          if (out.isEmpty() || !out.get(out.size() - 1).equals(phase)) {
            out.add(phase);
          }
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }
}
