package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * helm-java's Go runtime takes SIGTERM and SIGINT, and not only when the library loads: a JVM that
 * rendered a chart on a thread of its own then ignored SIGTERM, so a worker would not stop
 * gracefully (Kubernetes would kill it). Runs {@link #main} in a JVM of its own, renders the test
 * chart through {@link HelmJavaReleases} on another thread, sends SIGTERM, and expects the JVM's
 * exit (143) within seconds.
 */
class HelmSignalsIT {

  @Test
  void sigtermStillStopsTheJvmAfterHelmRanOnAnotherThread() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "signals-");
    Path chart = ChartReleases.testChart(dir);
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                HelmSignalsIT.class.getName(),
                chart.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("out.txt").toFile())
            .start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(dir.resolve("out.txt")).contains("rendered")
          && p.isAlive()
          && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertThat(Files.readString(dir.resolve("out.txt"))).contains("rendered");
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(10, TimeUnit.SECONDS))
          .as("the JVM stops on SIGTERM after a Helm call")
          .isTrue();
      assertThat(p.exitValue()).isEqualTo(143);
    } finally {
      p.destroyForcibly();
    }
  }

  /** Renders the chart in args[0] on a new thread, says so, and waits to be stopped. */
  public static void main(String[] args) throws Exception {
    HelmJavaReleases helm = new HelmJavaReleases(null);
    Thread t =
        new Thread(() -> {
          String out = helm.render(HelmProcessReleasesIT.call(args[0], Map.of()));
          System.out.println("rendered " + out.length() + " characters");
        });
    t.start();
    t.join();
    Thread.sleep(120_000);
  }
}
