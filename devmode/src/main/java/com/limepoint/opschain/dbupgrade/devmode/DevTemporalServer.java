package com.limepoint.opschain.dbupgrade.devmode;

import com.limepoint.opschain.dbupgrade.worker.LocalTemporalServer;
import io.micronaut.context.annotation.Requires;
import io.temporal.testserver.TestServer;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev mode's Temporal: the real Temporal Java test server, bound to a port so that the {@code
 * temporal} CLI and the starter can reach it. Time runs in real time (no skipping), so gates wait
 * for their approvals.
 */
@Singleton
@Requires(env = "dev")
public class DevTemporalServer implements LocalTemporalServer {
  private static final Logger log = LoggerFactory.getLogger(DevTemporalServer.class);
  private final TestServer.PortBoundTestServer server;

  public DevTemporalServer(DevConfig config) {
    try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
      probe.bind(new java.net.InetSocketAddress(config.devPort()));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(
          "dev mode: port "
              + config.devPort()
              + " is in use (another Temporal server or dev-mode"
              + " worker?): stop it, or choose another port with OPSCHAIN_DEV_PORT and OPSCHAIN_TEMPORAL_TARGET");
    }
    server = TestServer.createPortBoundServer(config.devPort());
    registerSearchAttributes(config.devPort());
    log.info(
        "dev mode: Temporal test server on localhost:{} (namespace default), search attributes OpsChainNamespace and UpgradePhase registered",
        config.devPort());
  }

  /**
   * What {@code temporal operator search-attribute create --type Keyword} does on a real server.
   */
  private static void registerSearchAttributes(int port) {
    var stubs =
        io.temporal.serviceclient.OperatorServiceStubs.newServiceStubs(
            io.temporal.serviceclient.OperatorServiceStubsOptions.newBuilder()
                .setTarget("localhost:" + port)
                .validateAndBuildWithDefaults());
    try {
      stubs
          .blockingStub()
          .addSearchAttributes(
              io.temporal.api.operatorservice.v1.AddSearchAttributesRequest.newBuilder()
                  .setNamespace("default")
                  .putSearchAttributes(
                      "OpsChainNamespace",
                      io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD)
                  .putSearchAttributes(
                      "UpgradePhase",
                      io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD)
                  .build());
    } finally {
      stubs.shutdownNow();
    }
  }

  @PreDestroy
  void close() {
    server.close();
  }
}
