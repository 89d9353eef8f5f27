package com.limepoint.opschain.dbupgrade.devmode;

import io.micronaut.context.ApplicationContext;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The dev-mode worker's application context as the worker ITs start it: its own Temporal dev server
 * on a free port, and its demo cluster in a fresh directory under target/.
 */
record DevMode(ApplicationContext context, int port, Path demoDir) implements AutoCloseable {

  /** Starts the dev mode with these settings added (they may not override the port or dir). */
  static DevMode start(String dirPrefix, Map<String, Object> settings) throws IOException {
    int port = freePort();
    Path demoDir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), dirPrefix);
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
   * Skips the test when {@code ok} is false, except in CI ({@code CI} set, as .ci/run runs), where
   * the set-up installs everything these tests need and a skip would hide that it did not.
   */
  static void require(boolean ok, String why) {
    if (System.getenv("CI") != null) {
      org.junit.jupiter.api.Assertions.assertTrue(ok, why + " (in CI the set-up must provide it)");
    } else {
      org.junit.jupiter.api.Assumptions.assumeTrue(ok, why);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    context.close();
  }
}
