package com.limepoint.opschain.dbupgrade.worker;

import io.micronaut.context.ApplicationContext;
import java.util.Arrays;

/**
 * Starts the worker. {@code --dev} (or the {@code dev} environment) adds the in-process Temporal
 * server on localhost:7233 and the demo cluster, so that {@code starter demo} can run a whole
 * upgrade on a machine without Kubernetes or Temporal. {@code --demo} does all of it in one
 * process: the dev-mode worker, then {@code starter demo} against it, then a clean stop.
 */
public final class WorkerMain {
  private WorkerMain() {}

  /**
   * helm-java embeds the Go runtime, and Helm registers Go handlers for SIGTERM and SIGINT that
   * swallow them: the JVM would never run its shutdown hooks (and Kubernetes would SIGKILL the
   * worker mid-activity). So the library is loaded now, and the JVM's handlers put back after it.
   */
  @SuppressWarnings("removal")
  static void restoreShutdownSignals() {
    try {
      com.marcnuri.helm.Helm.version().call();
    } catch (RuntimeException e) {
      // Only loading the library matters here.
    }
    for (String name : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(name), s -> System.exit(128 + s.getNumber()));
    }
  }

  public static void main(String[] args) throws InterruptedException {
    boolean demo = Arrays.asList(args).contains("--demo");
    boolean dev = demo || Arrays.asList(args).contains("--dev");
    // Micronaut's launcher registers the shutdown hook that stops the context on SIGTERM.
    ApplicationContext context =
        io.micronaut.runtime.Micronaut.build(Arrays.stream(args).filter(a -> !a.startsWith("--de")).toArray(String[]::new))
            .environments(dev ? new String[] {"dev"} : new String[0])
            .mainClass(WorkerMain.class)
            .start();
    if (demo) {
      WorkerConfig c = context.getBean(WorkerConfig.class);
      String request = (c.demoDir() != null ? c.demoDir() : System.getProperty("java.io.tmpdir") + "/opschain-demo") + "/request.json";
      int code = new picocli.CommandLine(new com.limepoint.opschain.dbupgrade.starter.Starter())
          .execute("demo", "--target", "localhost:" + c.devPort(), "--request", request);
      context.close();
      System.exit(code);
    }
    restoreShutdownSignals();
    // The Temporal pollers keep the JVM alive until the shutdown hook stops the context.
  }
}
