package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.starter.Starter;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowStub;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.failure.CanceledFailure;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A cancel request, as the Web UI's "Request Cancellation" and {@code temporal workflow cancel}
 * send it, on the real dev server (temporal server start-dev) with the dev-mode worker and the demo
 * cluster: before the point of no return it puts OpsChain back at the replicas preflight saw,
 * checked; the run is CANCELED, and the status, the search attribute and {@code watch} say so.
 */
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
class CancelIT {
  private static DevMode dev;
  private static DemoCluster demo;

  @BeforeAll
  static void startDevMode() throws Exception {
    DevMode.require(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    dev = DevMode.start("cancel-", Map.of("micronaut.server.port", -1));
    DevMode.require(
        dev.context().getBean(DevTemporalServer.class).real(),
        "no temporal CLI here: bin/ensure-temporal installs it");
    demo = dev.context().getBean(DemoCluster.class);
  }

  @AfterAll
  static void stop() {
    if (dev != null) {
      dev.close();
    }
  }

  @Test
  @org.junit.jupiter.api.Order(1)
  void cancelAtBackupVerifiedPutsOpsChainBackAtItsReplicasChecked() throws Exception {
    Map<String, Integer> before = replicas();
    try (Upgrades upgrade = new Upgrades(dev.target())) {
      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.approve(Gate.START);
      upgrade.awaitGate(Gate.BACKUP_VERIFIED);
      assertThat(replicas()).as("OpsChain stopped during the downtime").isNotEqualTo(before);

      cancel();

      UpgradeStatus s = awaitCanceled(upgrade);
      assertThat(s.message()).contains("cancelled", "OpsChain is back in service on");
      assertThat(s.steps())
          .filteredOn(x -> x.name().equals("checkDatabaseBack"))
          .singleElement()
          .satisfies(x -> assertThat(x.state()).isEqualTo(StepState.DONE));
      assertThat(replicas()).isEqualTo(before);
      assertThat(upgradePhase()).isEqualTo("CANCELED");
      assertWatchReturns("CANCELED: cancelled");
    }
  }

  @Test
  @org.junit.jupiter.api.Order(2)
  void cancelInTheMiddleOfTakeBackupStopsItAndPutsOpsChainBack() throws Exception {
    Map<String, Integer> before = replicas();
    // pg_basebackup hangs (SIGSTOP) as soon as it started: the cancel lands while it runs.
    var paused = demo.box().pauseExec("pg_basebackup", Duration.ofMillis(50));
    try (Upgrades upgrade = new Upgrades(dev.target())) {
      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.approve(Gate.START);
      upgrade.awaitRunning("takeBackup");
      paused.await(Duration.ofMinutes(2));

      long t = System.nanoTime();
      cancel();

      UpgradeStatus s = awaitCanceled(upgrade);
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t);
      System.out.println("cancel mid-backup to back in service: " + seconds + " s");
      assertThat(s.message()).contains("cancelled", "OpsChain is back in service on");
      assertThat(s.steps())
          .filteredOn(x -> x.name().equals("takeBackup"))
          .singleElement()
          .satisfies(x -> assertThat(x.state()).isEqualTo(StepState.CANCELED));
      assertThat(s.steps())
          .filteredOn(x -> x.name().equals("checkDatabaseBack"))
          .singleElement()
          .satisfies(x -> assertThat(x.state()).isEqualTo(StepState.DONE));
      assertThat(replicas()).isEqualTo(before);
      assertThat(upgradePhase()).isEqualTo("CANCELED");
      // The cancelled attempt stopped what it ran in the pod: no pg_basebackup is left running.
      assertThat(demo.box().podCommands())
          .filteredOn(c -> String.join(" ", c.argv()).contains("pg_basebackup"))
          .isNotEmpty()
          .allSatisfy(c -> assertThat(c.endedMillis()).as(c.argv().toString()).isNotZero());
    }
  }

  /** Last: it leaves the demo upgraded. */
  @Test
  @org.junit.jupiter.api.Order(4)
  void cancelAfterThePointOfNoReturnLeavesTheStateAndANewStartContinuesIt() throws Exception {
    Map<String, Integer> before = replicas();
    String rowsBefore = demo.rows();
    try (Upgrades upgrade = new Upgrades(dev.target())) {
      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.approve(Gate.START);
      upgrade.approve(Gate.BACKUP_VERIFIED);
      upgrade.awaitGate(Gate.SERVICES_VERIFIED);
      int revisions = demo.releases().history(DemoCluster.NAMESPACE, "opschain").size();

      cancel();

      UpgradeStatus s = awaitCanceled(upgrade);
      assertThat(s.message())
          .contains(
              "after the new version was deployed, so nothing was undone",
              "The backup is kept at",
              "start the upgrade again with the same request");
      assertThat(demo.releases().history(DemoCluster.NAMESPACE, "opschain"))
          .as("nothing deployed by the cancel")
          .hasSize(revisions);

      // A new start with the same request continues it from the import.
      upgrade.start(dev.demoDir().resolve("request.json"));
      UpgradeStatus start = upgrade.awaitGate(Gate.START);
      assertThat(start.openGate().evidence().summary())
          .contains("stopped after the point of no return", "continues it from the import");
      upgrade.approve(Gate.START);
      UpgradeStatus services = upgrade.awaitGate(Gate.SERVICES_VERIFIED);
      assertThat(services.steps())
          .filteredOn(x -> x.name().equals("checkParity"))
          .singleElement()
          .satisfies(x -> assertThat(x.state()).isEqualTo(StepState.DONE));
      upgrade.approve(Gate.SERVICES_VERIFIED);
      upgrade.approve(Gate.FINALIZE);
      var report = upgrade.result(Duration.ofMinutes(5));
      assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
      assertThat(report.reason()).contains("continued from run");
      assertThat(demo.rows()).isEqualTo(rowsBefore);
      assertThat(Upgrades.count(report, "takeBackup", StepState.DONE)).isZero();
    }
  }

  @Test
  @org.junit.jupiter.api.Order(3)
  void aRunStartedOverAnEarlierRunsStoppedOpsChainSaysSoAtStart() throws Exception {
    Map<String, Integer> before = replicas();
    try (Upgrades upgrade = new Upgrades(dev.target())) {
      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.approve(Gate.START);
      upgrade.awaitGate(Gate.BACKUP_VERIFIED);
      // Terminated, not cancelled: nothing compensates, OpsChain stays stopped.
      try (var c = new Client()) {
        c.client.newUntypedWorkflowStub(Upgrades.WORKFLOW_ID).terminate("started by mistake");
      }
      assertThat(replicas().get("opschain-api")).isZero();

      upgrade.start(dev.demoDir().resolve("request.json"));
      UpgradeStatus start = upgrade.awaitGate(Gate.START);

      assertThat(start.openGate().evidence().summary()).contains("over what an earlier run left");
      assertThat(start.openGate().evidence().details())
          .anyMatch(d -> d.contains("left by an earlier run") && d.contains("stopOpsChain"))
          .anyMatch(d -> d.contains("OpsChain is already stopped: opschain-api"))
          .anyMatch(d -> d.startsWith("rejecting START: OpsChain stays stopped"));
      try (var c = new Client()) {
        var wf =
            c.client.newWorkflowStub(
                com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow.class,
                Upgrades.WORKFLOW_ID);
        wf.rejectGate(
            new com.limepoint.opschain.dbupgrade.model.GateDecision("START", "alice", "not now"));
      }
      UpgradeStatus rejected =
          upgrade.await(x -> x.phase() == Phase.ABORTED, Duration.ofMinutes(1));
      assertThat(rejected.message()).contains("nothing was changed", "OpsChain stays stopped");

      // Approved, then aborted: the run puts OpsChain back, which the earlier one never did.
      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.approve(Gate.START);
      upgrade.awaitGate(Gate.BACKUP_VERIFIED);
      try (var c = new Client()) {
        c.client
            .newWorkflowStub(
                com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow.class,
                Upgrades.WORKFLOW_ID)
            .rejectGate(
                new com.limepoint.opschain.dbupgrade.model.GateDecision(
                    "BACKUP_VERIFIED", "alice", "put it back"));
      }
      UpgradeStatus back = upgrade.await(x -> x.phase() == Phase.ABORTED, Duration.ofMinutes(3));
      assertThat(back.message()).contains("OpsChain is back in service");
      assertThat(replicas()).isEqualTo(before);
    }
  }

  /** The db deployment's and OpsChain's deployments' replicas in the demo namespace. */
  private static Map<String, Integer> replicas() {
    Map<String, Integer> r = new LinkedHashMap<>();
    for (String name :
        List.of("opschain-db", "opschain-api", "opschain-api-worker", "opschain-log-aggregator")) {
      var d =
          demo.activityClient()
              .apps()
              .deployments()
              .inNamespace(DemoCluster.NAMESPACE)
              .withName(name)
              .get();
      r.put(name, d == null ? null : d.getSpec().getReplicas());
    }
    return r;
  }

  /** The cancel request, through the same API as the Web UI's button. */
  private static void cancel() {
    try (var c = new Client()) {
      c.client.newUntypedWorkflowStub(Upgrades.WORKFLOW_ID).cancel("window closed");
    }
  }

  private static UpgradeStatus awaitCanceled(Upgrades upgrade) throws Exception {
    try (var c = new Client()) {
      WorkflowStub stub = c.client.newUntypedWorkflowStub(Upgrades.WORKFLOW_ID);
      assertThatThrownBy(() -> stub.getResult(5, TimeUnit.MINUTES, Object.class))
          .isInstanceOf(WorkflowFailedException.class)
          .hasCauseInstanceOf(CanceledFailure.class);
    }
    UpgradeStatus s = upgrade.await(x -> x.phase() == Phase.CANCELED, Duration.ofSeconds(30));
    assertThat(s.openGate()).isNull();
    return s;
  }

  private static String upgradePhase() throws Exception {
    try (var c = new Client()) {
      // The visibility store follows the history a moment later.
      String phase = null;
      for (int i = 0; i < 40 && !"CANCELED".equals(phase); i++) {
        Thread.sleep(i == 0 ? 0 : 250);
        var payload =
            c.stubs
                .blockingStub()
                .describeWorkflowExecution(
                    io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest.newBuilder()
                        .setNamespace("default")
                        .setExecution(
                            io.temporal.api.common.v1.WorkflowExecution.newBuilder()
                                .setWorkflowId(Upgrades.WORKFLOW_ID))
                        .build())
                .getWorkflowExecutionInfo()
                .getSearchAttributes()
                .getIndexedFieldsMap()
                .get("UpgradePhase");
        phase =
            payload == null
                ? null
                : DefaultDataConverter.STANDARD_INSTANCE.fromPayload(
                    payload, String.class, String.class);
      }
      return phase;
    }
  }

  /**
   * {@code bin/opschain-upgrade watch} on the closed run: it returns, with 1 and the final line.
   */
  private static void assertWatchReturns(String line) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream original = System.out;
    System.setOut(new PrintStream(buf, true));
    int code;
    try {
      code =
          Starter.commandLine(new picocli.CommandLine(new Starter()))
              .execute("watch", "opschain", "--target", dev.target(), "--every", "0.2");
    } finally {
      System.setOut(original);
    }
    assertThat(code).isEqualTo(1);
    assertThat(buf.toString()).contains(line);
  }

  private static final class Client implements AutoCloseable {
    final WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(dev.target()).build());
    final WorkflowClient client = WorkflowClient.newInstance(stubs);

    @Override
    public void close() {
      stubs.shutdownNow();
    }
  }
}
