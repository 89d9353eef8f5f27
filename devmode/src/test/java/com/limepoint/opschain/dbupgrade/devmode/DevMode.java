package com.limepoint.opschain.dbupgrade.devmode;

import io.micronaut.context.ApplicationContext;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The dev-mode worker's application context as the worker ITs start it: its own Temporal dev server
 * on a free port, and its demo cluster in a fresh directory under target/.
 */
record DevMode(ApplicationContext context, int port, Path demoDir) implements AutoCloseable {

  /** Starts the dev mode with these settings added (they may not override the port or dir). */
  static DevMode start(String dirPrefix, Map<String, Object> settings) throws IOException {
    int port = freePort();
    Path demoDir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create(dirPrefix);
    Map<String, Object> properties = new HashMap<>(settings);
    properties.put("opschain.dev-port", port);
    properties.put("opschain.dev-ui-port", freePort());
    properties.put("opschain.temporal-target", "localhost:" + port);
    properties.put("opschain.demo-dir", demoDir.toString());
    ApplicationContext context =
        ApplicationContext.builder().environments("dev").properties(properties).start();
    return new DevMode(context, port, demoDir);
  }

  String target() {
    return "localhost:" + port;
  }

  /** What {@code starter demo} printed and its exit code. */
  record DemoRun(int code, String printed) {}

  /**
   * Runs {@code starter demo} against this dev mode's server with its request, as a user would,
   * capturing what it prints (and echoing it to the test's output).
   */
  DemoRun runDemo() {
    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
    java.io.PrintStream original = System.out;
    System.setOut(new java.io.PrintStream(buf, true));
    int code;
    try {
      code =
          new picocli.CommandLine(new com.limepoint.opschain.dbupgrade.starter.Starter())
              .execute(
                  "demo",
                  "--target",
                  target(),
                  "--request",
                  demoDir.resolve("request.json").toString());
    } finally {
      System.setOut(original);
    }
    String printed = buf.toString();
    System.out.print(printed);
    return new DemoRun(code, printed);
  }

  /**
   * A production-mode worker process on the demo cluster's kubeconfig and chart releases, started
   * and polling; every one has the same host name, so a replacement polls the same host queue.
   */
  Process worker(DemoCluster demo, String name) throws Exception {
    return worker(demo, name, List.of(), List.of());
  }

  /**
   * A worker process started by {@code launcher} (for example into a memory cgroup; empty: none)
   * with these JVM options.
   */
  Process worker(DemoCluster demo, String name, List<String> launcher, List<String> jvm)
      throws Exception {
    Path log = demoDir().resolve("worker-" + name + ".log");
    List<String> command = new java.util.ArrayList<>(launcher);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvm);
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            "com.limepoint.opschain.dbupgrade.devmode.DevMain"));
    ProcessBuilder pb =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment()
        .putAll(
            Map.of(
                "OPSCHAIN_TEMPORAL_TARGET", target(),
                "OPSCHAIN_KUBECONFIG", demo.kubeconfig().toString(),
                "OPSCHAIN_DEMO_CHART", "true",
                "OPSCHAIN_HOST", "killed-worker-host",
                "OPSCHAIN_SEARCH_ATTRIBUTES", "true",
                "OPSCHAIN_APPROVERS", "alice",
                "OPSCHAIN_SECOND_APPROVER_GATES", "none",
                "MICRONAUT_SERVER_PORT", "-1"));
    Process p = pb.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (!Files.readString(log).contains("polling ")) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError("worker " + name + " did not start:\n" + Files.readString(log));
      }
      Thread.sleep(200);
    }
    return p;
  }

  /**
   * Skips the test when {@code ok} is false, except in CI ({@code CI} set, as .ci/run runs), where
   * the set-up installs everything these tests need and a skip would hide that it did not.
   */
  static void require(boolean ok, String why) {
    com.limepoint.opschain.dbupgrade.testkit.Required.tool(ok, why);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    context.close();
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(demoDir);
  }
}
