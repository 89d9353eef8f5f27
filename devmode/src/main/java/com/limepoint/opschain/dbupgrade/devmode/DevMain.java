package com.limepoint.opschain.dbupgrade.devmode;

import com.limepoint.opschain.dbupgrade.kube.ExecTransport;
import com.limepoint.opschain.dbupgrade.starter.Starter;
import com.limepoint.opschain.dbupgrade.worker.WorkerMain;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.Micronaut;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;

/**
 * The embedded default. {@code --dev}: the production worker's context plus the Temporal dev server
 * on localhost:7233 and the demo cluster, so that the starter and the {@code temporal} CLI can run
 * a whole upgrade on a machine without Kubernetes or Temporal. {@code --demo}: all of it from one
 * command, then {@code starter demo} against it, then a clean stop. Without either, it is the
 * production worker (with the demo's chart releases when {@code opschain.demo-chart} is set: see
 * {@link DemoChartBeans}).
 */
public final class DevMain {
  private DevMain() {}

  public static void main(String[] args) {
    List<String> flags = Arrays.asList(args);
    boolean demo = flags.contains("--demo");
    boolean dev = demo || flags.contains("--dev");
    if (!dev) {
      WorkerMain.main(args);
      return;
    }
    ExecTransport.configure();
    String[] rest =
        flags.stream()
            .filter(a -> !a.equals("--dev") && !a.equals("--demo"))
            .toArray(String[]::new);
    // Micronaut's launcher registers the shutdown hook that stops the context on SIGTERM.
    ApplicationContext context =
        Micronaut.build(rest).environments("dev").mainClass(DevMain.class).start();
    if (demo) {
      DevConfig c = context.getBean(DevConfig.class);
      String ui = context.getBean(DevTemporalServer.class).webUi("opschain-db-upgrade-opschain");
      if (ui != null) {
        System.out.println("Web UI of this upgrade: " + ui + " (while the demo runs)");
      }
      String request = c.demoPath().resolve("request.json").toString();
      int code =
          new CommandLine(new Starter())
              .execute("demo", "--target", "localhost:" + c.devPort(), "--request", request);
      context.close();
      System.exit(code);
    }
    // The Temporal pollers keep the JVM alive until the shutdown hook stops the context.
  }
}
