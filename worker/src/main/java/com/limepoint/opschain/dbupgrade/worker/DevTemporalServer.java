package com.limepoint.opschain.dbupgrade.worker;

import io.micronaut.context.annotation.Requires;
import io.temporal.testserver.TestServer;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev mode's Temporal: the real Temporal Java test server, bound to a port so that the
 * {@code temporal} CLI and the starter can reach it. Time runs in real time (no skipping), so gates
 * wait for their approvals.
 */
@Singleton
@Requires(env = "dev")
public class DevTemporalServer {
  private static final Logger log = LoggerFactory.getLogger(DevTemporalServer.class);
  private final TestServer.PortBoundTestServer server;

  public DevTemporalServer(WorkerConfig config) {
    server = TestServer.createPortBoundServer(config.devPort());
    log.info("dev mode: Temporal test server on localhost:{} (namespace default)", config.devPort());
  }

  @PreDestroy
  void close() {
    server.close();
  }
}
