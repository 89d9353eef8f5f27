package com.limepoint.opschain.dbupgrade.devmode;

import com.limepoint.opschain.dbupgrade.worker.LocalTemporalServer;
import io.micronaut.context.annotation.Requires;
import io.temporal.testserver.TestServer;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev mode's Temporal: the official development server, {@code temporal server start-dev} (see
 * {@link TemporalDevServer}), with its database file in the demo directory and its Web UI; where no
 * {@code temporal} CLI can be had, the Java SDK's test server on the same port, said in one line.
 * Time runs in real time on both, so gates wait for their approvals.
 */
@Singleton
@Requires(env = "dev")
public class DevTemporalServer implements LocalTemporalServer {
  private static final Logger log = LoggerFactory.getLogger(DevTemporalServer.class);
  private final TemporalDevServer cliServer;
  private final TestServer.PortBoundTestServer javaServer;
  private final DevConfig config;

  /** The demo cluster comes first: it empties the demo directory, where the database file goes. */
  public DevTemporalServer(DevConfig config, DemoCluster demo) {
    this.config = config;
    requireFree(config.devPort(), "OPSCHAIN_DEV_PORT and OPSCHAIN_TEMPORAL_TARGET");
    var cli = TemporalDevServer.find(config.temporalCli());
    if (cli.isPresent()) {
      requireFree(config.uiPort(), "OPSCHAIN_DEV_UI_PORT");
      cliServer =
          new TemporalDevServer(cli.get(), config.devPort(), config.uiPort(), demo.directory());
      cliServer.start();
      javaServer = null;
    } else {
      log.warn(
          "dev mode: no temporal CLI (bin/ensure-temporal installs it; OPSCHAIN_TEMPORAL_CLI names"
              + " one): running the Java SDK's test server on localhost:{} instead, without a Web UI",
          config.devPort());
      cliServer = null;
      javaServer = TestServer.createPortBoundServer(config.devPort());
      registerSearchAttributes(config.devPort());
    }
  }

  /** The Web UI's address of a workflow, or null on the Java test server (it has none). */
  public String webUi(String workflowId) {
    return cliServer == null
        ? null
        : "http://localhost:" + config.uiPort() + "/namespaces/default/workflows/" + workflowId;
  }

  @Override
  public boolean keepsStickyQueues() {
    return real();
  }

  /** True when this is the real development server (not the Java test server). */
  public boolean real() {
    return cliServer != null;
  }

  /** Stops and starts the real server on its database file (for durability tests). */
  public void restart() {
    if (cliServer == null) {
      throw new IllegalStateException("the Java test server keeps nothing across a restart");
    }
    cliServer.restart();
  }

  private static void requireFree(int port, String settings) {
    try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
      probe.bind(new java.net.InetSocketAddress(port));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(
          "dev mode: port "
              + port
              + " is in use (another Temporal server or dev-mode worker?): stop it, or choose"
              + " another port with "
              + settings);
    }
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
    if (cliServer != null) {
      cliServer.close();
    } else {
      javaServer.close();
    }
  }
}
