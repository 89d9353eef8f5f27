package com.limepoint.opschain.dbupgrade.devmode;

import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Requires;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev mode without a worker of its own ({@code opschain.dev-worker=false}): the in-process
 * Temporal server and the demo cluster, started with the context, for a worker in another process
 * (for example to measure the worker alone through a whole demo: devmode/measure-worker).
 */
@Context
@Requires(env = "dev")
@Requires(property = "opschain.dev-worker", value = "false")
public class DevWithoutWorker {
  private static final Logger log = LoggerFactory.getLogger(DevWithoutWorker.class);

  DevWithoutWorker(DevTemporalServer server, DemoCluster demo, DevConfig c) {
    log.info(
        "dev mode without a worker: Temporal on localhost:{}; start one with"
            + " OPSCHAIN_TEMPORAL_TARGET=localhost:{} OPSCHAIN_KUBECONFIG={} OPSCHAIN_DEMO_CHART=true",
        c.devPort(),
        c.devPort(),
        demo.kubeconfig());
  }
}
