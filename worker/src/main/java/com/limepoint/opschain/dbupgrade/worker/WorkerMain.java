package com.limepoint.opschain.dbupgrade.worker;

import com.limepoint.opschain.dbupgrade.kube.ExecTransport;
import io.micronaut.runtime.Micronaut;

/**
 * Starts the production worker: its settings from {@code application.yml} and {@code OPSCHAIN_*}
 * environment variables. The embedded default (the Temporal dev server and the demo cluster) is the
 * {@code devmode} module's {@code DevMain}, never part of this worker or its image.
 */
public final class WorkerMain {
  private WorkerMain() {}

  public static void main(String[] args) {
    ExecTransport.configure();
    // Micronaut's launcher registers the shutdown hook that stops the context on SIGTERM; the
    // Temporal pollers keep the JVM alive until then.
    Micronaut.build(args).mainClass(WorkerMain.class).start();
  }
}
