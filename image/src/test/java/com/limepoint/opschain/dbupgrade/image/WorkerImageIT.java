package com.limepoint.opschain.dbupgrade.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The worker image Jib built ({@code -Pimage}, which bin/test turns on) really runs: its layers are
 * unpacked into a root file system, and its own entrypoint, environment and user run there in a
 * chroot (no Docker engine here), against the dev mode's Temporal server and demo cluster. The
 * worker must poll, answer /health as UP for Temporal and Kubernetes, and stop on SIGTERM.
 */
class WorkerImageIT {
  static final Path IMAGE = Path.of("target", "jib-image.tar");
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void theImagesEntrypointStartsTheWorkerWhichPollsAndIsReady() throws Exception {
    assumeTrue(Files.exists(IMAGE), "no image: build with -Pimage (bin/test does)");
    assumeTrue(
        "root".equals(System.getProperty("user.name")), "running the image in a chroot needs root");
    Path rootfs = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "image-root-");
    Path unpacked = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "image-tar-");
    run(List.of("tar", "-xf", IMAGE.toString(), "-C", unpacked.toString()));
    JsonNode manifest = JSON.readTree(unpacked.resolve("manifest.json").toFile()).get(0);
    for (JsonNode layer : manifest.get("Layers")) {
      run(
          List.of(
              "tar", "-xf", unpacked.resolve(layer.asText()).toString(), "-C", rootfs.toString()));
    }
    JsonNode config =
        JSON.readTree(unpacked.resolve(manifest.get("Config").asText()).toFile()).get("config");
    assertThat(config.get("User").asText()).isEqualTo("10001:10001");
    // The worker runs Helm as the helm binary (HelmCliReleases, opschain.helm = helm on the PATH):
    // the image carries the pinned one, and it runs there as the worker's user.
    assertThat(config.get("Env").toString()).contains("/usr/local/bin");
    assertThat(
            output(
                List.of(
                    "chroot",
                    "--userspec=10001:10001",
                    rootfs.toString(),
                    "/usr/local/bin/helm",
                    "version",
                    "--template",
                    "{{.Version}}")))
        .isEqualTo("v3.21.4");

    int httpPort = freePort();
    int temporalPort = freePort();
    ApplicationContext dev =
        ApplicationContext.builder()
            .environments("dev")
            .properties(
                Map.of(
                    "opschain.dev-port",
                    temporalPort,
                    "opschain.dev-ui-port",
                    freePort(),
                    "opschain.temporal-target",
                    "localhost:" + temporalPort,
                    "opschain.demo-dir",
                    Files.createTempDirectory(Path.of("target").toAbsolutePath(), "image-demo-")
                        .toString(),
                    "opschain.demo-simulated",
                    true,
                    "micronaut.server.port",
                    -1))
            .start();
    Path proc = rootfs.resolve("proc");
    Files.createDirectories(proc);
    // What a container runtime provides: without /dev/urandom the JDK seeds SecureRandom from
    // thread timing, which takes seconds.
    Files.createDirectories(rootfs.resolve("dev"));
    for (String[] node : new String[][] {{"null", "3"}, {"random", "8"}, {"urandom", "9"}}) {
      run(
          List.of(
              "mknod",
              "-m",
              "666",
              rootfs.resolve("dev/" + node[0]).toString(),
              "c",
              "1",
              node[1]));
    }
    // The JVM finds its own libraries through /proc/self/exe, as in any container.
    Process mount =
        new ProcessBuilder("mount", "-t", "proc", "proc", proc.toString())
            .redirectErrorStream(true)
            .start();
    String mountOutput = new String(mount.getInputStream().readAllBytes());
    if (mount.waitFor() != 0) {
      dev.close();
      assumeTrue(false, "cannot mount /proc for the chroot here: " + mountOutput);
    }
    Process worker = null;
    try {
      // verifyBackup runs gzip -t and tar -tzf on the worker's copy: the image has both.
      Path archive = rootfs.resolve("tmp/check.tar.gz");
      Files.writeString(rootfs.resolve("tmp/PG_VERSION"), "15\n");
      run(
          List.of(
              "tar",
              "-czf",
              archive.toString(),
              "-C",
              rootfs.resolve("tmp").toString(),
              "PG_VERSION"));
      archive.toFile().setReadable(true, false);
      String user = config.get("User").asText();
      run(
          List.of(
              "chroot",
              "--userspec=" + user,
              rootfs.toString(),
              "gzip",
              "-t",
              "/tmp/check.tar.gz"));
      assertThat(
              output(
                  List.of(
                      "chroot",
                      "--userspec=" + user,
                      rootfs.toString(),
                      "tar",
                      "-tzf",
                      "/tmp/check.tar.gz")))
          .isEqualTo("PG_VERSION\n");
      // The kubeconfig the dev mode wrote for its demo cluster.
      Files.copy(
          dev.getBean(com.limepoint.opschain.dbupgrade.devmode.DemoCluster.class).kubeconfig(),
          rootfs.resolve("tmp/kubeconfig"));
      rootfs.resolve("tmp/kubeconfig").toFile().setReadable(true, false);

      List<String> argv =
          new ArrayList<>(List.of("chroot", "--userspec=10001:10001", rootfs.toString()));
      config.get("Entrypoint").forEach(a -> argv.add(a.asText()));
      ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
      pb.environment().clear();
      config
          .get("Env")
          .forEach(e ->
              pb.environment()
                  .put(
                      e.asText().substring(0, e.asText().indexOf('=')),
                      e.asText().substring(e.asText().indexOf('=') + 1)));
      pb.environment()
          .putAll(
              Map.of(
                  "OPSCHAIN_TEMPORAL_TARGET", "localhost:" + temporalPort,
                  "OPSCHAIN_KUBECONFIG", "/tmp/kubeconfig",
                  "OPSCHAIN_HOST", "image",
                  "OPSCHAIN_HOST_BACKUP_DIR", "/tmp/backup",
                  "MICRONAUT_SERVER_PORT", String.valueOf(httpPort),
                  "LOG_FORMAT", "json"));
      Path log = rootfs.resolveSibling(rootfs.getFileName() + ".log");
      worker = pb.redirectOutput(log.toFile()).start();

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (!Files.readString(log).contains("\"polling ")
          && System.nanoTime() < deadline
          && worker.isAlive()) {
        Thread.sleep(200);
      }
      String output = Files.readString(log);
      assertThat(output)
          .as(output)
          .containsPattern(
              "polling opschain-db-upgrade, opschain-db-upgrade-cluster-[0-9a-f]{12} and"
                  + " opschain-db-upgrade-host-image-[0-9a-f]{12} ");
      // image/image-aot-cache trained the cache as root with a JDK 25 runtime: the JVM must map it
      // (a cache that does not match the runtime or the class path is reported and ignored).
      if (config.get("Entrypoint").toString().contains("-XX:AOTCache=")) {
        assertThat(Files.exists(rootfs.resolve("app/worker.aot"))).isTrue();
        assertThat(output)
            .as(output)
            .doesNotContain("[error][aot]")
            .doesNotContain("[warning][aot]");
      }
      // The HTTP server starts right after the context (and its pollers).
      HttpResponse<String> health = null;
      for (int i = 0; i < 100 && health == null; i++) {
        try {
          health =
              HttpClient.newHttpClient()
                  .send(
                      HttpRequest.newBuilder(URI.create("http://localhost:" + httpPort + "/health"))
                          .timeout(Duration.ofSeconds(20))
                          .build(),
                      HttpResponse.BodyHandlers.ofString());
        } catch (java.net.ConnectException e) {
          Thread.sleep(200);
        }
      }
      assertThat(health).as("the image's worker serves /health on %d", httpPort).isNotNull();
      System.out.println("image worker /health -> " + health.statusCode() + " " + health.body());
      JsonNode h = JSON.readTree(health.body());
      assertThat(h.at("/details/temporal/status").asText()).isEqualTo("UP");
      assertThat(h.at("/details/kubernetes/status").asText()).isEqualTo("UP");

      worker.destroy();
      assertThat(worker.waitFor(30, TimeUnit.SECONDS)).as("stops on SIGTERM").isTrue();
      assertThat(Files.readString(log)).contains("stopping: no new tasks");
    } finally {
      if (worker != null) {
        worker.destroyForcibly();
      }
      run(List.of("umount", proc.toString()));
      dev.close();
      // About 1 GB a run. --one-file-system: never into a /proc that is still mounted.
      run(List.of("rm", "-rf", "--one-file-system", rootfs.toString(), unpacked.toString()));
    }
  }

  /**
   * The image is the production worker and nothing else: none of the test harness, the test server,
   * the mock API server, Vert.x or the dev mode is among its jars (they all live in the devmode
   * module, a test dependency of this one).
   */
  @Test
  void theImageHoldsNoTestHarnessTestServerOrDevMode() throws Exception {
    assumeTrue(Files.exists(IMAGE), "no image: build with -Pimage (bin/test does)");
    Path unpacked = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "image-jars-");
    run(List.of("tar", "-xf", IMAGE.toString(), "-C", unpacked.toString()));
    JsonNode manifest = JSON.readTree(unpacked.resolve("manifest.json").toFile()).get(0);
    List<String> jars = new ArrayList<>();
    for (JsonNode layer : manifest.get("Layers")) {
      for (String entry :
          output(List.of("tar", "-tf", unpacked.resolve(layer.asText()).toString())).split("\n")) {
        if (entry.endsWith(".jar")) {
          jars.add(entry.substring(entry.lastIndexOf('/') + 1));
        }
      }
    }
    System.out.println("image jars: " + jars.size());
    run(List.of("rm", "-rf", unpacked.toString()));
    assertThat(jars)
        .as("the worker's own jars are in the image")
        .anyMatch(j -> j.startsWith("opschain-db-upgrade-worker-"))
        .anyMatch(j -> j.startsWith("opschain-db-upgrade-activities-"))
        .anyMatch(j -> j.startsWith("temporal-sdk-"));
    assertThat(jars)
        .noneMatch(j -> j.startsWith("opschain-db-upgrade-testkit"))
        .noneMatch(j -> j.startsWith("opschain-db-upgrade-devmode"))
        .noneMatch(j -> j.startsWith("opschain-db-upgrade-starter"))
        .noneMatch(j -> j.startsWith("temporal-testing"))
        .noneMatch(j -> j.startsWith("temporal-test-server"))
        .noneMatch(j -> j.startsWith("kubernetes-server-mock"))
        .noneMatch(j -> j.startsWith("mockwebserver"))
        .noneMatch(j -> j.startsWith("vertx-"))
        .noneMatch(j -> j.startsWith("junit"));
  }

  static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void run(List<String> argv) throws IOException, InterruptedException {
    output(argv);
  }

  /** Runs a command that must succeed; what it printed. */
  private static String output(List<String> argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException(argv + " failed: " + out);
    }
    return out;
  }
}
