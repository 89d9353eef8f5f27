package com.limepoint.opschain.dbupgrade.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The tools the project builds from the Go module proxy, for the tests and the dev mode: the
 * Kubernetes control plane ({@code bin/ensure-kube}) and the {@code helm} binary ({@code
 * bin/ensure-helm}). Each script builds on first use, is a no-op when its cache holds the pinned
 * version, and prints the binaries' directory last; {@code bin/test} runs them once and exports the
 * directories as {@code TEST_KUBE_BIN} and {@code TEST_HELM_BIN}.
 */
public final class BuiltTools {
  private static volatile Path helm;

  private BuiltTools() {}

  /** The control plane's binaries' directory, or null when it cannot be built here (no Go). */
  public static Path kube() {
    return directory("TEST_KUBE_BIN", "bin/ensure-kube", "kube-apiserver");
  }

  /**
   * The {@code helm} binary the tests and the dev mode run, the one the image carries.
   *
   * @throws IllegalStateException when it cannot be built here (bin/ensure-helm needs Go)
   */
  public static Path helm() {
    Path h = helm;
    if (h == null) {
      Path dir = directory("TEST_HELM_BIN", "bin/ensure-helm", "helm");
      if (dir == null) {
        throw new IllegalStateException(
            "no helm binary: bin/ensure-helm builds it from the Go module proxy (it needs Go)");
      }
      h = helm = dir.resolve("helm");
    }
    return h;
  }

  /** The checkout's root: the first parent of the working directory with bin/ensure-kube. */
  public static Path projectRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.exists(p.resolve("bin/ensure-kube"))) {
        return p;
      }
    }
    throw new IllegalStateException("no bin/ensure-kube above " + Path.of("").toAbsolutePath());
  }

  /** {@code $env}, else what {@code script} prints last; null when it holds no {@code probe}. */
  private static Path directory(String env, String script, String probe) {
    String set = System.getenv(env);
    if (set != null && !set.isBlank()) {
      return Files.isExecutable(Path.of(set, probe)) ? Path.of(set) : null;
    }
    try {
      Process p =
          new ProcessBuilder(projectRoot().resolve(script).toString())
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      p.getOutputStream().close();
      List<String> lines = new String(p.getInputStream().readAllBytes()).lines().toList();
      if (p.waitFor() != 0 || lines.isEmpty()) {
        return null;
      }
      Path dir = Path.of(lines.get(lines.size() - 1).strip());
      return Files.isExecutable(dir.resolve(probe)) ? dir : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
