package com.limepoint.opschain.dbupgrade.devmode;

import io.temporal.api.workflowservice.v1.DescribeNamespaceRequest;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The official Temporal development server, {@code temporal server start-dev}, as a child process:
 * SQLite in a file (history survives the server's own restart), the Web UI, and the dev mode's
 * search attributes registered at start ({@code --search-attribute KEY=Keyword}, as the CLI's own
 * help documents). Started, waited for (the default namespace answers), stopped (SIGTERM, then
 * SIGKILL after 15 s), and restartable on the same file and ports.
 */
final class TemporalDevServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TemporalDevServer.class);

  /** Where bin/ensure-temporal installs the CLI, relative to the project's root. */
  static final Path PROJECT_CLI = Path.of(".tools", "venv", "bin", "temporal");

  private final Path cli;
  private final int port;
  private final int uiPort;
  private final Path db;
  private final Path logFile;
  private Process process;

  TemporalDevServer(Path cli, int port, int uiPort, Path dir) {
    this.cli = cli;
    this.port = port;
    this.uiPort = uiPort;
    this.db = dir.resolve("temporal.db");
    this.logFile = dir.resolve("temporal-server.log");
  }

  /**
   * The CLI to run: {@code OPSCHAIN_TEMPORAL_CLI} (or the property) when set, else the project's
   * own install found from the working directory or its parent (a module's directory under Maven),
   * else {@code temporal} on the PATH; empty when none is executable.
   */
  static Optional<Path> find(String configured) {
    if (configured != null && !configured.isBlank()) {
      Path p = Path.of(configured);
      return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }
    for (Path root : List.of(Path.of(""), Path.of(".."))) {
      Path p = root.resolve(PROJECT_CLI).toAbsolutePath().normalize();
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "temporal");
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** Starts the server and returns once the default namespace answers. */
  void start() {
    List<String> argv =
        List.of(
            cli.toString(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            String.valueOf(port),
            "--ui-port",
            String.valueOf(uiPort),
            "--db-filename",
            db.toString(),
            "--search-attribute",
            "OpsChainNamespace=Keyword",
            "--search-attribute",
            "UpgradePhase=Keyword",
            "--ui-disable-news-fetch",
            "--log-level",
            "warn");
    try {
      Files.createDirectories(db.getParent());
      process =
          new ProcessBuilder(argv)
              .redirectErrorStream(true)
              .redirectOutput(Redirect.appendTo(logFile.toFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + String.join(" ", argv), e);
    }
    awaitReady(Duration.ofSeconds(90));
    log.info(
        "dev mode: temporal server start-dev on localhost:{} (database {}), Web UI http://localhost:{}",
        port,
        db,
        uiPort);
  }

  /** Stops the server: SIGTERM, then SIGKILL after 15 s. */
  void stop() {
    if (process == null) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  /** Stops and starts the server on the same database file and ports (durability tests). */
  void restart() {
    stop();
    start();
  }

  /** The pid of the running server process (to kill it -9 in a test), or -1. */
  long pid() {
    return process == null ? -1 : process.pid();
  }

  int uiPort() {
    return uiPort;
  }

  Path logFile() {
    return logFile;
  }

  private void awaitReady(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget("127.0.0.1:" + port).build());
    try {
      RuntimeException last = null;
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IllegalStateException(
              "temporal server start-dev exited with " + process.exitValue() + "; " + tail());
        }
        try {
          stubs
              .blockingStub()
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .describeNamespace(
                  DescribeNamespaceRequest.newBuilder().setNamespace("default").build());
          return;
        } catch (RuntimeException e) {
          last = e;
          sleep(200);
        }
      }
      throw new IllegalStateException(
          "temporal server start-dev did not answer on port "
              + port
              + " within "
              + timeout
              + "; "
              + tail(),
          last);
    } finally {
      stubs.shutdownNow();
    }
  }

  private String tail() {
    try {
      List<String> lines = Files.readAllLines(logFile);
      return "its log ends: "
          + String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
    } catch (IOException e) {
      return "no log at " + logFile;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the dev server", e);
    }
  }

  @Override
  public void close() {
    stop();
  }
}
