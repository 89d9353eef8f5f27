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

  public static void main(String[] args) throws InterruptedException {
    com.limepoint.opschain.dbupgrade.kube.ExecTransport.configure();
    boolean demo = Arrays.asList(args).contains("--demo");
    boolean dev = demo || Arrays.asList(args).contains("--dev");
    // Micronaut's launcher registers the shutdown hook that stops the context on SIGTERM.
    ApplicationContext context =
        io.micronaut.runtime.Micronaut.build(
                Arrays.stream(args).filter(a -> !a.startsWith("--de")).toArray(String[]::new))
            .environments(dev ? new String[] {"dev"} : new String[0])
            .mainClass(WorkerMain.class)
            .start();
    if (demo) {
      WorkerConfig c = context.getBean(WorkerConfig.class);
      String request =
          (c.demoDir() != null
                  ? c.demoDir()
                  : System.getProperty("java.io.tmpdir") + "/opschain-demo")
              + "/request.json";
      int code =
          new picocli.CommandLine(new com.limepoint.opschain.dbupgrade.starter.Starter())
              .execute("demo", "--target", "localhost:" + c.devPort(), "--request", request);
      context.close();
      System.exit(code);
    }
    // helm-java (and its Go runtime's signal handlers) is loaded at the first Helm call, which
    // puts the JVM's SIGTERM/SIGINT handlers back: see HelmJavaReleases. The dev mode's demo
    // cluster has rendered its chart with helm-java already.
    if (dev) {
      com.limepoint.opschain.dbupgrade.helm.HelmJavaReleases.loadKeepingShutdownSignals();
    }
    // The Temporal pollers keep the JVM alive until the shutdown hook stops the context.
  }
}
