package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Helm in a process of its own ({@link HelmMain}): the same answers and errors as helm-java in the
 * calling JVM, nothing left behind, and a calling JVM that never maps Helm's Go library.
 */
class HelmProcessReleasesIT {
  private static final List<String> JAVA =
      List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp",
          System.getProperty("java.class.path"));

  private Path dir;
  private Path tmp;
  private Path chart;

  @BeforeEach
  void setUp() throws Exception {
    dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "helm-process-");
    tmp = Files.createDirectories(dir.resolve("tmp"));
    chart = ChartReleases.testChart(dir);
  }

  /** A render of the test chart's 2026-02-10 version, as the tests here and HelmSignalsIT use. */
  static HelmCall call(String chartPath, Map<String, String> set) {
    return new HelmCall(
        "opschain",
        "opschain",
        chartPath,
        "2026-02-10",
        List.of(),
        set,
        "render",
        false,
        60,
        false);
  }

  @Test
  void rendersWhatHelmJavaRendersInTheCallingJvmAndLeavesNothingBehind() throws Exception {
    HelmCall call =
        call(chart.toString(), Map.of("db.cnpg.instances", "2", "db.cnpg.storage.size", "20Gi"));
    String here = new HelmJavaReleases(null).render(call);

    String there = new HelmProcessReleases(null, JAVA, tmp).render(call);

    assertThat(there).isEqualTo(here).contains("kind: Cluster", "instances: 2", "20Gi");
    try (var left = Files.list(tmp)) {
      assertThat(left)
          .as("the call's directory, with the library Helm unpacked, is gone")
          .isEmpty();
    }
  }

  @Test
  void helmsErrorArrivesAsHelmThrewIt() throws Exception {
    Path kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(
        kubeconfig,
        String.join(
            "\n",
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]",
            "users: [{name: u, user: {token: t}}]",
            "contexts: [{name: x, context: {cluster: c, user: u}}]",
            "current-context: x"));
    HelmProcessReleases helm = new HelmProcessReleases(kubeconfig, JAVA, tmp);

    assertThatThrownBy(() -> helm.history("opschain", "opschain"))
        .isExactlyInstanceOf(IllegalStateException.class)
        .hasMessageContaining("127.0.0.1:1");
    assertThatThrownBy(() -> helm.render(call(dir.resolve("no-chart").toString(), Map.of())))
        .isExactlyInstanceOf(IllegalStateException.class)
        .hasMessageContaining("no-chart");
    try (var left = Files.list(tmp)) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void aProcessThatEndsWithoutAResultIsAHelmFailureWithItsStandardError() {
    HelmProcessReleases helm =
        new HelmProcessReleases(null, List.of(JAVA.get(0), "-cp", dir.toString()), tmp);

    assertThatThrownBy(() -> helm.render(call(chart.toString(), Map.of())))
        .isInstanceOfSatisfying(
            ApplicationFailure.class, f -> assertThat(f.getType()).isEqualTo("HelmFailed"))
        .hasMessageContaining("exited with 1 and no result")
        .hasMessageContaining(HelmMain.class.getName());
  }

  @Test
  void theCallingJvmNeverMapsHelmAndStillStopsOnSigterm() throws Exception {
    Path out = dir.resolve("out.txt");
    Process p =
        new ProcessBuilder(
                JAVA.get(0),
                "-cp",
                JAVA.get(2),
                HelmProcessReleasesIT.class.getName(),
                chart.toString())
            .redirectErrorStream(true)
            .redirectOutput(out.toFile())
            .start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(out).contains("rendered")
          && p.isAlive()
          && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertThat(Files.readString(out))
          .contains("rendered")
          .contains("helm library mapped here: false");
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isEqualTo(143);
    } finally {
      p.destroyForcibly();
    }
  }

  /** Renders the chart in args[0] through a Helm process, says whether Helm is mapped here. */
  public static void main(String[] args) throws Exception {
    String manifest = new HelmProcessReleases(null).render(call(args[0], Map.of()));
    boolean mapped = Files.readString(Path.of("/proc/self/maps")).contains("helm-linux");
    System.out.println("rendered " + manifest.length() + " characters");
    System.out.println("helm library mapped here: " + mapped);
    Thread.sleep(120_000);
  }
}
