package com.limepoint.opschain.dbupgrade.worker;

import io.micronaut.context.ApplicationContext;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * Starts the worker. {@code --dev} (or the {@code dev} environment) adds the in-process Temporal
 * server on localhost:7233 and the demo cluster, so that {@code starter demo} can run a whole
 * upgrade on a machine without Kubernetes or Temporal. {@code --demo} does all of it in one
 * process: the dev-mode worker, then {@code starter demo} against it, then a clean stop.
 */
public final class WorkerMain {
  private WorkerMain() {}

  public static void main(String[] args) throws InterruptedException {
    boolean demo = Arrays.asList(args).contains("--demo");
    boolean dev = demo || Arrays.asList(args).contains("--dev");
    ApplicationContext context =
        ApplicationContext.builder()
            .environments(dev ? new String[] {"dev"} : new String[0])
            .args(Arrays.stream(args).filter(a -> !a.startsWith("--de")).toArray(String[]::new))
            .start();
    if (demo) {
      WorkerConfig c = context.getBean(WorkerConfig.class);
      String request = (c.demoDir() != null ? c.demoDir() : System.getProperty("java.io.tmpdir") + "/opschain-demo") + "/request.json";
      int code = new picocli.CommandLine(new com.limepoint.opschain.dbupgrade.starter.Starter())
          .execute("demo", "--target", "localhost:" + c.devPort(), "--request", request);
      context.close();
      System.exit(code);
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      context.close();
      stopped.countDown();
    }, "shutdown"));
    stopped.await();
  }
}
