package com.limepoint.opschain.dbupgrade.testkit;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A Helm chart repository on loopback, as OpsChain's is reached by {@code opschain/opschain}: the
 * test chart packaged by the real {@code helm package} at each version asked for, an {@code
 * index.yaml} by {@code helm repo index}, served over HTTP, and a {@code repositories.yaml} naming
 * it {@code opschain}, as {@code helm repo add opschain <url>} writes it (helm v3.21.4
 * pkg/repo/repo.go, {@code Entry}).
 */
public final class ChartRepository implements AutoCloseable {
  /** The repository's name in the repository file: charts are {@code opschain/<chart>}. */
  public static final String NAME = "opschain";

  private final HttpServer server;
  private final Path dir;
  private final Path files;
  private final Path repositoryConfig;
  private final List<String> served = new CopyOnWriteArrayList<>();

  /**
   * Packages the test chart at each of {@code versions} into {@code dir} and serves them.
   *
   * @param dir a directory of the test's own (its sandbox)
   */
  public ChartRepository(Path dir, List<String> versions) {
    this.dir = dir;
    try {
      files = Files.createDirectories(dir.resolve("chart-repository"));
      for (String version : versions) {
        packageChart(version);
      }
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.createContext(
          "/",
          exchange -> {
            try (exchange) {
              String name = exchange.getRequestURI().getPath().replaceFirst("^/", "");
              served.add(name);
              Path f = files.resolve(name).normalize();
              if (name.isEmpty() || !f.startsWith(files) || !Files.isRegularFile(f)) {
                exchange.sendResponseHeaders(404, -1);
                return;
              }
              byte[] body = Files.readAllBytes(f);
              exchange.sendResponseHeaders(200, body.length);
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
              }
            }
          });
      server.start();
      helm(dir, "repo", "index", files.toString(), "--url", url());
      repositoryConfig =
          Files.writeString(
              dir.resolve("repositories.yaml"),
              "apiVersion: \"\"\n"
                  + "generated: \"0001-01-01T00:00:00Z\"\n"
                  + "repositories:\n"
                  + "- name: "
                  + NAME
                  + "\n  url: "
                  + url()
                  + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Publishes the test chart at {@code version}, as a chart release does: its archive, then the
   * index again. A Helm whose cached index predates this does not see it.
   */
  public synchronized void publish(String version) {
    try {
      packageChart(version);
      helm(dir, "repo", "index", files.toString(), "--url", url());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void packageChart(String version) throws IOException {
    Path chart = ChartReleases.testChart(dir.resolve("chart-source-" + version));
    Path meta = chart.resolve("Chart.yaml");
    Files.writeString(
        meta, Files.readString(meta).replaceAll("(?m)^version: .*$", "version: " + version));
    helm(dir, "package", chart.toString(), "--version", version, "--destination", files.toString());
  }

  /** The repository's address, as {@code helm repo add} was given it. */
  public String url() {
    return "http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort();
  }

  /** The {@code repositories.yaml} that names this repository {@link #NAME}. */
  public Path repositoryConfig() {
    return repositoryConfig;
  }

  /** The paths asked for so far ({@code index.yaml}, {@code opschain-<version>.tgz}), in order. */
  public List<String> served() {
    return List.copyOf(served);
  }

  @Override
  public void close() {
    server.stop(0);
  }

  private static void helm(Path dir, String... args) throws IOException {
    List<String> argv = new ArrayList<>();
    argv.add(BuiltTools.helm().toString());
    argv.addAll(List.of(args));
    Path log = dir.resolve("helm-" + args[0] + ".log");
    ProcessBuilder pb =
        new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile());
    // Helm's own files stay in the sandbox, whatever the user's ~/.config/helm holds.
    pb.environment().put("HELM_CACHE_HOME", dir.resolve("helm-cache").toString());
    pb.environment().put("HELM_CONFIG_HOME", dir.resolve("helm-config").toString());
    pb.environment().put("HELM_DATA_HOME", dir.resolve("helm-data").toString());
    try {
      if (pb.start().waitFor() != 0) {
        throw new IllegalStateException(
            String.join(" ", argv) + " failed: " + Files.readString(log));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
