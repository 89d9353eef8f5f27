package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.argThat;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitResult;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Past the point of no return a failed step does not end the run: it stops at RETRY_STEP, which
 * says what state is left, and approving it continues the upgrade to COMPLETED. One case for each
 * place the upgrade can stop.
 */
class StopsAfterPointOfNoReturnTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  final FakeActivities fakes = new FakeActivities();

  static ApplicationFailure failure(String type) {
    return ApplicationFailure.newNonRetryableFailure("the API server is unreachable", type);
  }

  static final ChangeResult CHANGED = ChangeResult.changed("done");
  static final WaitResult WAITED = new WaitResult("condition met", 10);

  /** Each place: the step that fails once, how it fails, and whether the import failed before. */
  static Stream<Arguments> places() {
    return Stream.of(
        place(
            "upgradeRelease",
            "Helm.upgrade:upgradeRelease",
            f ->
                when(f.helm.upgrade(argThat(u -> u != null && u.step().equals("upgradeRelease"))))
                    .thenThrow(failure(FailureTypes.HELM_FAILED))
                    .thenReturn(new HelmActivities.HelmResult(8, "deployed", true, "upgraded"))),
        place(
            "awaitImport",
            "Cnpg.awaitImport",
            f ->
                when(f.cnpg.awaitImport(any()))
                    .thenThrow(failure("ApiUnavailable"))
                    .thenReturn(
                        new CnpgActivities.ImportResult(
                            "Cluster in healthy state", 1, 1, 5, List.of()))),
        place(
            "restartServices",
            "Cluster.rolloutRestart",
            f ->
                when(f.cluster.rolloutRestart(any()))
                    .thenThrow(failure("ApiUnavailable"))
                    .thenReturn(CHANGED)),
        place(
            "restartServices",
            "Cluster.awaitRolloutComplete",
            f ->
                when(f.cluster.awaitRolloutComplete(any()))
                    .thenThrow(failure("WaitTimedOut"))
                    .thenReturn(WAITED)),
        place(
            "prepareFinalValues",
            "Values.prepareValues:FINAL",
            f ->
                doThrow(failure("ValuesInvalid"))
                    .doReturn(
                        new ValuesActivities.ValuesResult("/backup/values.final.yaml", "diff"))
                    .when(f.values)
                    .prepareValues(
                        argThat(v ->
                            v != null && v.kind() == ValuesActivities.Kind.FINAL && !v.dryRun()))),
        place(
            "finalizeUpgrade",
            "Helm.upgrade:finalizeUpgrade",
            f ->
                when(f.helm.upgrade(argThat(u -> u != null && u.step().equals("finalizeUpgrade"))))
                    .thenThrow(failure(FailureTypes.HELM_FAILED))
                    .thenReturn(new HelmActivities.HelmResult(9, "deployed", true, "upgraded"))),
        place(
            "finalizeUpgrade",
            "Cluster.awaitDeploymentGone",
            f ->
                when(f.cluster.awaitDeploymentGone(any()))
                    .thenThrow(failure("WaitTimedOut"))
                    .thenReturn(WAITED)),
        place(
            "manualRestore",
            "RestorePod.restorePgdata",
            f -> {
              when(f.cnpg.awaitImport(any()))
                  .thenThrow(
                      ApplicationFailure.newNonRetryableFailure(
                          "import Job failed", FailureTypes.IMPORT_FAILED));
              when(f.restorePod.restorePgdata(any()))
                  .thenThrow(failure("ExecFailed"))
                  .thenReturn(CHANGED);
            }));
  }

  private static Arguments place(String step, String call, Consumer<FakeActivities> failOnce) {
    return Arguments.of(step, call, failOnce);
  }

  @ParameterizedTest(name = "{1} fails once")
  @MethodSource("places")
  void aStepThatFailsAfterThePointOfNoReturnStopsAtRetryStepAndIsContinuedToCompleted(
      String step,
      String call,
      Consumer<FakeActivities> failOnce,
      TestWorkflowEnvironment env,
      Worker worker,
      io.temporal.client.WorkflowClient client) {
    failOnce.accept(fakes);
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());

    List<Gate> gates = approveEveryGateUntil(wf, Gate.RETRY_STEP);
    UpgradeStatus stopped = wf.status();
    assertThat(stopped.openGate().evidence().summary())
        .contains(step + " failed after the point of no return", "Nothing was undone");
    assertThat(stopped.openGate().evidence().details()).anyMatch(d -> d.startsWith("state: "));
    assertThat(stopped.openGate().deadline()).as("waits for a person").isNull();
    int callsAtTheStop = Collections.frequency(fakes.calls(), call);
    gates.addAll(approveEveryGateUntil(wf, null));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.COMPLETED);
    assertThat(Collections.frequency(fakes.calls(), call))
        .as("approving RETRY_STEP ran the step once more")
        .isEqualTo(callsAtTheStop + 1);
    assertThat(gates).containsOnlyOnce(Gate.RETRY_STEP);
    if (!step.equals("manualRestore")) {
      assertThat(gates).as("only a failed import opens it").doesNotContain(Gate.MANUAL_RESTORE);
    } else {
      String id = io.temporal.client.WorkflowStub.fromTyped(wf).getExecution().getWorkflowId();
      WorkflowTestSupport.exportHistory(client, id, "retry-step-manual-restore-parent");
      WorkflowTestSupport.exportHistory(
          client, id + "-manual-restore", "retry-step-manual-restore-child");
    }
  }

  @Test
  void rejectingRetryStepEndsTheRunWithTheStateLeftAndNothingUndone(
      TestWorkflowEnvironment env, Worker worker, io.temporal.client.WorkflowClient client) {
    when(fakes.cnpg.awaitImport(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure("import failed", FailureTypes.IMPORT_FAILED));
    when(fakes.restorePod.checkControlData(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure(
                "Database cluster state: in crash recovery", FailureTypes.CONTROL_DATA_MISMATCH));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approveEveryGateUntil(wf, Gate.RETRY_STEP);
    assertThat(wf.status().openGate().evidence().summary()).contains("ControlDataMismatch");
    wf.reject(new GateDecision("RETRY_STEP", "alice", "restore by hand"));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason())
        .contains("RETRY_STEP rejected by alice", "nothing was undone", "manualRestore failed");
    List<String> calls = fakes.calls();
    assertThat(calls.get(calls.size() - 1)).isEqualTo("RestorePod.checkControlData");
    assertThat(calls).doesNotContain("RestorePod.deleteRestorePod", "Cluster.rolloutRestart");
  }

  @Test
  void aRestoreImageOfAnotherMajorKeepsManualRestoreFromBeingApprovedAndSaysWhatToSet(
      TestWorkflowEnvironment env, Worker worker, io.temporal.client.WorkflowClient client) {
    when(fakes.cnpg.awaitImport(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure("import failed", FailureTypes.IMPORT_FAILED));
    String problem =
        "restoreImage limepoint/opschain-db:17.5 is PostgreSQL 17 but the backup is PostgreSQL 15:"
            + " set restoreImage to a PostgreSQL 15 image";
    when(fakes.restorePod.checkRestoreTarget(any()))
        .thenReturn(
            new com.limepoint.opschain.dbupgrade.activities.RestorePodActivities.RestoreTargetCheck(
                "limepoint/opschain-db:17.5",
                "postgres (PostgreSQL) 17.5",
                "17",
                "15",
                "opschain-db-1",
                true,
                java.util.Map.of("cnpg.io/cluster", "opschain-db"),
                List.of("Cluster/opschain-db"),
                List.of(problem)));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approveEveryGateUntil(wf, Gate.MANUAL_RESTORE);

    UpgradeStatus at = wf.status();
    assertThat(at.openGate().evidence().details())
        .contains(
            "restoreImage limepoint/opschain-db:17.5 is PostgreSQL 17; the backup is PostgreSQL 15",
            "cannot restore: " + problem);
    assertThatThrownBy(
            () -> wf.approveGate(new GateDecision("MANUAL_RESTORE", "alice", "try anyway")))
        .hasStackTraceContaining("cannot be approved")
        .hasStackTraceContaining("set restoreImage to a PostgreSQL 15 image");
    wf.approve(new GateDecision("MANUAL_RESTORE", "alice", "signal"));
    assertThat(wf.status().openGate().gate()).isEqualTo(Gate.MANUAL_RESTORE);
    wf.reject(new GateDecision("MANUAL_RESTORE", "alice", "restore by hand with postgres:15"));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(fakes.calls())
        .contains("Backup.backupPgVersion", "RestorePod.checkRestoreTarget")
        .doesNotContain("Cnpg.deleteCluster", "RestorePod.createRestorePod");
  }

  @Test
  void aGateAfterThePointOfNoReturnWaitsPastTheGateTimeout(
      TestWorkflowEnvironment env, Worker worker, io.temporal.client.WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approveEveryGateUntil(wf, Gate.SERVICES_VERIFIED);

    env.sleep(Duration.ofDays(10));

    UpgradeStatus status = wf.status();
    assertThat(status.phase()).isEqualTo(Phase.AWAITING_APPROVAL);
    assertThat(status.openGate().gate()).isEqualTo(Gate.SERVICES_VERIFIED);
    approveEveryGateUntil(wf, null);
    assertThat(result(client, WorkflowTestSupport.NAMESPACE).outcome())
        .isEqualTo(Outcome.COMPLETED);
  }

  /**
   * The worker that holds the backup is gone after the point of no return: the step it would run is
   * not picked up within {@code UpgradeActivities.HOST_START}, and the run stops at RETRY_STEP
   * naming the host, its queue and the backup; once the host's worker is back, approving it
   * finishes the upgrade.
   */
  @Test
  void aHostThatIsGoneAfterThePointOfNoReturnStopsAtRetryStepNamingIt(
      TestWorkflowEnvironment env, Worker worker, io.temporal.client.WorkflowClient client)
      throws InterruptedException {
    // The worker says its host's activities wait 3 s for it (the default is 10 minutes; the test
    // server does not skip time over an activity nobody has taken).
    when(fakes.host.claimHost(any()))
        .thenReturn(
            new HostActivities.HostQueue(
                "test-host", FakeActivities.HOST_QUEUE, false, List.of(), null, null, null, 3));
    worker.registerActivitiesImplementations(
        fakes.host, fakes.cluster, fakes.cnpg, fakes.restorePod);
    env.start();
    io.temporal.worker.WorkerFactory host = fakes.hostFactory(client);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    for (Gate g : List.of(Gate.START, Gate.BACKUP_VERIFIED)) {
      WorkflowTestSupport.awaitGate(wf, g);
      wf.approveGate(new GateDecision(g.name(), "alice", null));
    }
    WorkflowTestSupport.awaitGate(wf, Gate.SERVICES_VERIFIED);
    host.shutdownNow();
    host.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    wf.approveGate(new GateDecision("SERVICES_VERIFIED", "alice", null));
    UpgradeStatus stopped = WorkflowTestSupport.awaitGate(wf, Gate.RETRY_STEP);

    assertThat(stopped.openGate().evidence().summary())
        .contains(
            "prepareFinalValues failed after the point of no return",
            "HostGone: no worker of host test-host took PrepareValues from its queue "
                + FakeActivities.HOST_QUEUE
                + " within 3 s",
            "start its worker again");
    io.temporal.worker.WorkerFactory back = fakes.hostFactory(client);
    try {
      wf.approveGate(new GateDecision("RETRY_STEP", "alice", null));
      WorkflowTestSupport.awaitGate(wf, Gate.FINALIZE);
      wf.approveGate(new GateDecision("FINALIZE", "alice", null));
      UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

      assertThat(report.outcome()).isEqualTo(Outcome.COMPLETED);
    } finally {
      back.shutdownNow();
    }
  }

  /**
   * The host goes away after OpsChain was stopped, before the point of no return: the census is not
   * taken, and putting OpsChain back cannot run Helm there either. The cluster's workers scale the
   * legacy database and OpsChain's deployments back, the services and the database are checked, and
   * the run ends saying what was done and what is left to do.
   */
  @Test
  void aHostThatIsGoneBeforeThePointOfNoReturnLeavesOpsChainBackInServiceAndSaysHow(
      TestWorkflowEnvironment env, Worker worker, io.temporal.client.WorkflowClient client)
      throws InterruptedException {
    when(fakes.host.claimHost(any()))
        .thenReturn(
            new HostActivities.HostQueue(
                "test-host", FakeActivities.HOST_QUEUE, false, List.of(), null, null, null, 3));
    io.temporal.worker.WorkerFactory[] host = new io.temporal.worker.WorkerFactory[1];
    // The host's worker is gone as soon as the database is scaled up for the backup.
    when(fakes.cluster.scaleDeployment(any()))
        .thenAnswer(inv -> {
          if (host[0] != null) {
            host[0].shutdownNow();
            host[0] = null;
          }
          return CHANGED;
        });
    // Preflight found the API with two replicas (older workers' results have none: 1).
    when(fakes.cluster.preflight(any()))
        .thenReturn(
            new ClusterActivities.PreflightResult(
                true,
                false,
                1_000_000L,
                List.of("namespace exists"),
                null,
                null,
                java.util.Map.of("opschain-db", 1, "opschain-api", 2)));
    worker.registerActivitiesImplementations(
        fakes.host, fakes.cluster, fakes.cnpg, fakes.restorePod);
    env.start();
    host[0] = fakes.hostFactory(client);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    WorkflowTestSupport.awaitGate(wf, Gate.START);
    wf.approveGate(new GateDecision("START", "alice", null));

    assertThatThrownBy(() -> result(client, WorkflowTestSupport.NAMESPACE))
        .cause()
        .hasMessageContaining("HostGone: no worker of the host took Census")
        .hasMessageContaining("OpsChain is back in service on " + FakeActivities.DEPLOYED_VERSION)
        .hasMessageContaining("the host test-host that runs Helm is gone")
        .hasMessageContaining(
            "scaled opschain-db to 1, opschain-api to 2, opschain-api-worker to 1,"
                + " opschain-log-aggregator to 1 (their replicas at preflight)");
    List<String> calls = fakes.calls();
    assertThat(calls.subList(calls.indexOf("Cluster.awaitDeploymentReady") + 1, calls.size()))
        .as("after the host was gone: nothing on it ran, the cluster's workers put OpsChain back")
        .containsExactly(
            "Cluster.scaleDeployment",
            "Cluster.scaleDeployment",
            "Cluster.scaleDeployment",
            "Cluster.scaleDeployment",
            "Cluster.awaitRolloutComplete",
            "Cluster.checkDatabaseBack");
    assertThat(wf.status().steps())
        .filteredOn(st -> st.name().equals("scaleBackWithoutHost"))
        .singleElement()
        .satisfies(st ->
            assertThat(st.summary()).startsWith("scaled opschain-db to 1, opschain-api to 2"));
    assertThat(fakes.arguments())
        .filteredOn(a -> a instanceof ClusterActivities.ScaleRequest)
        .extracting(a -> ((ClusterActivities.ScaleRequest) a).replicas())
        .containsExactly(1, 1, 2, 1, 1);
  }

  /**
   * Approves each gate as it opens, until {@code stopAt} is open (left open) or, with null, the run
   * has ended; returns the gates approved, in order.
   */
  private static List<Gate> approveEveryGateUntil(DbUpgradeWorkflow wf, Gate stopAt) {
    List<Gate> approved = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      UpgradeStatus s = wf.status();
      if (s.openGate() != null) {
        if (s.openGate().gate() == stopAt) {
          return approved;
        }
        wf.approveGate(new GateDecision(s.openGate().gate().name(), "alice", null));
        approved.add(s.openGate().gate());
      } else if (stopAt == null && s.phase() == Phase.COMPLETED) {
        return approved;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new AssertionError("stuck: " + wf.status().message() + "; approved " + approved);
  }
}
