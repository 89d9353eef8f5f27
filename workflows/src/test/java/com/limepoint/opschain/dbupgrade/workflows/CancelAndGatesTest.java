package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.activity.Activity;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowStub;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.failure.CanceledFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A cancel request (the Web UI's "Request Cancellation", {@code temporal workflow cancel}) is an
 * abort before the point of no return and changes nothing blindly after it; gates are named timers
 * in the history; the approve and reject updates answer with the state after the decision.
 */
class CancelAndGatesTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  final FakeActivities fakes = new FakeActivities();

  @Test
  void cancelAtBackupVerifiedPutsOpsChainBackCheckedAndEndsCanceled(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approveGate(new GateDecision("START", "alice", null));
    awaitGate(wf, Gate.BACKUP_VERIFIED);
    int before = fakes.calls().size();

    WorkflowStub.fromTyped(wf).cancel("window closed");

    assertCanceled(client);
    UpgradeStatus s = wf.status();
    assertThat(s.phase()).isEqualTo(Phase.CANCELED);
    assertThat(s.message())
        .contains("cancelled (window closed)", "OpsChain is back in service on 2025-10-01");
    assertThat(s.openGate()).isNull();
    assertThat(fakes.calls().subList(before, fakes.calls().size()))
        .containsExactlyElementsOf(DbUpgradeWorkflowTest.COMPENSATION);
    assertThat(s.steps())
        .filteredOn(x -> x.name().equals("gate BACKUP_VERIFIED"))
        .singleElement()
        .satisfies(x -> assertThat(x.state()).isEqualTo(StepState.CANCELED));
    WorkflowTestSupport.exportHistory(
        client, UpgradeRequests.workflowId("opschain"), "cancel-before-point-of-no-return");
  }

  @Test
  void cancelDuringTheBackupStopsItFirstThenPutsOpsChainBack(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) throws Exception {
    CountDownLatch running = new CountDownLatch(1);
    AtomicBoolean backupSawCancel = new AtomicBoolean();
    AtomicBoolean backupEndedBeforePutBack = new AtomicBoolean();
    when(fakes.backup.takeBackup(any()))
        .thenAnswer(inv -> {
          running.countDown();
          try {
            for (int i = 0; i < 3000; i++) {
              Activity.getExecutionContext().heartbeat(i);
              Thread.sleep(10);
            }
          } catch (io.temporal.client.ActivityCompletionException e) {
            backupSawCancel.set(true);
            throw e;
          }
          throw new AssertionError("the backup was not cancelled");
        });
    when(fakes.helm.upgrade(any()))
        .thenAnswer(inv -> {
          var r =
              (com.limepoint.opschain.dbupgrade.activities.HelmActivities.UpgradeRequest)
                  inv.getArgument(0);
          if (r.step().equals("putBackInService")) {
            backupEndedBeforePutBack.set(backupSawCancel.get());
          }
          return new com.limepoint.opschain.dbupgrade.activities.HelmActivities.HelmResult(
              8, "deployed", true, "upgraded");
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approveGate(new GateDecision("START", "alice", null));
    assertThat(running.await(20, TimeUnit.SECONDS)).isTrue();

    WorkflowStub.fromTyped(wf).cancel();

    assertCanceled(client);
    assertThat(backupSawCancel).isTrue();
    assertThat(backupEndedBeforePutBack).as("the put-back waited for the backup to stop").isTrue();
    UpgradeStatus s = wf.status();
    assertThat(s.phase()).isEqualTo(Phase.CANCELED);
    assertThat(s.message()).contains("cancelled", "back in service on 2025-10-01");
    assertThat(fakes.calls())
        .containsSequence(
            "Backup.takeBackup", "Helm.upgrade:putBackInService", "Cluster.awaitRolloutComplete")
        .contains("Cluster.checkDatabaseBack")
        .doesNotContain("Helm.upgrade:upgradeRelease", "Backup.copyBackupOut");
  }

  @Test
  void aCancelDuringAnAbortsCompensationDoesNotRunItTwice(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) throws Exception {
    CountDownLatch putBackRunning = new CountDownLatch(1);
    CountDownLatch cancelSent = new CountDownLatch(1);
    when(fakes.helm.upgrade(any()))
        .thenAnswer(inv -> {
          var r =
              (com.limepoint.opschain.dbupgrade.activities.HelmActivities.UpgradeRequest)
                  inv.getArgument(0);
          if (r.step().equals("putBackInService")) {
            putBackRunning.countDown();
            assertThat(cancelSent.await(20, TimeUnit.SECONDS)).isTrue();
          }
          return new com.limepoint.opschain.dbupgrade.activities.HelmActivities.HelmResult(
              8, "deployed", true, "upgraded");
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approveGate(new GateDecision("START", "alice", null));
    awaitGate(wf, Gate.BACKUP_VERIFIED);
    wf.abort(new com.limepoint.opschain.dbupgrade.model.AbortRequest("alice", "window closed"));
    assertThat(putBackRunning.await(20, TimeUnit.SECONDS)).isTrue();

    WorkflowStub.fromTyped(wf).cancel();
    cancelSent.countDown();

    assertCanceled(client);
    UpgradeStatus s = wf.status();
    assertThat(s.phase()).isEqualTo(Phase.ABORTED);
    assertThat(s.message()).contains("aborted by alice", "back in service");
    assertThat(fakes.calls()).filteredOn("Helm.upgrade:putBackInService"::equals).hasSize(1);
    assertThat(fakes.calls()).filteredOn("Cluster.checkDatabaseBack"::equals).hasSize(1);
  }

  @Test
  void cancelBeforeStartChangesNothingAndAfterThePointOfNoReturnUndoesNothing(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    WorkflowStub.fromTyped(wf).cancel();
    assertCanceled(client);
    assertThat(wf.status().message()).contains("cancelled before START; nothing was changed");
    assertThat(fakes.calls()).noneMatch(c -> c.startsWith("Helm.upgrade"));

    DbUpgradeWorkflow second = start(client, worker.getTaskQueue(), request());
    awaitGate(second, Gate.START);
    second.approveGate(new GateDecision("START", "alice", null));
    awaitGate(second, Gate.BACKUP_VERIFIED);
    second.approveGate(new GateDecision("BACKUP_VERIFIED", "alice", null));
    awaitGate(second, Gate.SERVICES_VERIFIED);
    WorkflowStub.fromTyped(second).cancel();
    assertCanceled(client);
    UpgradeStatus s = second.status();
    assertThat(s.phase()).isEqualTo(Phase.CANCELED);
    assertThat(s.message())
        .contains(
            "cancelled after the new version was deployed, so nothing was undone",
            "OpsChain runs the new version on CNPG with recoveryMode",
            "The backup is kept at");
    assertThat(fakes.calls()).doesNotContain("Helm.upgrade:putBackInService");
  }

  @Test
  void eachGateIsANamedTimerCancelledWhenDecidedWithWhoDecided(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approveGate(new GateDecision("START", "alice", "window announced"));
    awaitGate(wf, Gate.BACKUP_VERIFIED);

    List<HistoryEvent> events =
        client.fetchHistory(UpgradeRequests.workflowId("opschain")).getEvents();
    List<String> timers =
        events.stream()
            .filter(e -> e.getEventType() == EventType.EVENT_TYPE_TIMER_STARTED)
            .map(e -> summary(e))
            .toList();
    assertThat(timers)
        .containsExactly(
            "gate START: Stop OpsChain and begin the downtime? (times out in 72h)",
            "gate START closed: approved by alice (window announced)",
            "gate BACKUP_VERIFIED: " + Gate.BACKUP_VERIFIED.question() + " (times out in 72h)");
    long startTimer =
        events.stream()
            .filter(e -> e.getEventType() == EventType.EVENT_TYPE_TIMER_STARTED)
            .findFirst()
            .orElseThrow()
            .getEventId();
    assertThat(events)
        .filteredOn(e -> e.getEventType() == EventType.EVENT_TYPE_TIMER_CANCELED)
        .extracting(e -> e.getTimerCanceledEventAttributes().getStartedEventId())
        .containsExactly(startTimer);
    // Past the point of no return a gate has no deadline, and is drawn as one all the same.
    wf.approveGate(new GateDecision("BACKUP_VERIFIED", "bob", null));
    awaitGate(wf, Gate.SERVICES_VERIFIED);
    assertThat(
            client.fetchHistory(UpgradeRequests.workflowId("opschain")).getEvents().stream()
                .filter(e -> e.getEventType() == EventType.EVENT_TYPE_TIMER_STARTED)
                .map(CancelAndGatesTest::summary)
                .toList())
        .contains(
            "gate BACKUP_VERIFIED closed: approved by bob",
            "gate SERVICES_VERIFIED: "
                + Gate.SERVICES_VERIFIED.question()
                + " (waits for a person, no deadline)");
  }

  @Test
  void theUpdatesAnswerWithTheStateAfterTheDecisionAndRejectRefusesAClosedGate(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);

    assertThatThrownBy(() -> wf.rejectGate(new GateDecision("BACKUP_VERIFIED", "alice", null)))
        .isInstanceOf(WorkflowUpdateException.class)
        .rootCause()
        .hasMessageContaining("gate BACKUP_VERIFIED is not open (open gate: START)");
    UpgradeStatus after = wf.approveGate(new GateDecision("START", "alice", null));
    assertThat(after.phase()).isNotEqualTo(Phase.AWAITING_APPROVAL);
    assertThat(after.openGate()).isNull();

    awaitGate(wf, Gate.BACKUP_VERIFIED);
    UpgradeStatus rejected = wf.rejectGate(new GateDecision("BACKUP_VERIFIED", "bob", "no"));
    // The answer comes as the rejection takes effect: OpsChain being put back.
    assertThat(rejected.phase()).isEqualTo(Phase.COMPENSATING);
    assertThat(rejected.message())
        .contains("BACKUP_VERIFIED rejected by bob (no)", "putting OpsChain back in service");
  }

  @Test
  void aNewStartContinuesARunCancelledAfterThePointOfNoReturnFromTheImport(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow first = start(client, worker.getTaskQueue(), request());
    awaitGate(first, Gate.START);
    first.approveGate(new GateDecision("START", "alice", null));
    awaitGate(first, Gate.BACKUP_VERIFIED);
    first.approveGate(new GateDecision("BACKUP_VERIFIED", "alice", null));
    awaitGate(first, Gate.SERVICES_VERIFIED);
    String firstRun = WorkflowStub.fromTyped(first).getExecution().getRunId();
    WorkflowStub.fromTyped(first).cancel();
    assertCanceled(client);
    assertThat(first.status().message()).contains("start the upgrade again with the same request");
    // What the first run left, as the cluster shows it: its upgradeRelease deployed the target.
    when(fakes.helm.releaseStatus(any()))
        .thenReturn(
            new com.limepoint.opschain.dbupgrade.activities.HelmActivities.ReleaseInfo(
                true,
                request().targetVersion(),
                9,
                "deployed",
                "opschain-db-upgrade opschain-db-upgrade-opschain/"
                    + firstRun
                    + "/upgradeRelease"));
    int before = fakes.calls().size();

    DbUpgradeWorkflow second = start(client, worker.getTaskQueue(), request());
    UpgradeStatus atStart = awaitGate(second, Gate.START);

    assertThat(atStart.openGate().evidence().summary())
        .contains("An earlier run (" + firstRun + ")", "continues it from the import");
    assertThat(atStart.openGate().evidence().details())
        .anyMatch(d -> d.contains("verified again on"));
    second.approveGate(new GateDecision("START", "alice", null));
    for (Gate g : List.of(Gate.SERVICES_VERIFIED, Gate.FINALIZE)) {
      awaitGate(second, g);
      second.approveGate(new GateDecision(g.name(), "alice", null));
    }
    var report = WorkflowTestSupport.result(client, WorkflowTestSupport.NAMESPACE);
    assertThat(report.outcome())
        .isEqualTo(com.limepoint.opschain.dbupgrade.model.Outcome.COMPLETED);
    assertThat(report.reason()).contains("continued from run " + firstRun);
    WorkflowTestSupport.exportHistory(
        client, UpgradeRequests.workflowId("opschain"), "continued-after-cancel");
    List<String> calls = fakes.calls().subList(before, fakes.calls().size());
    assertThat(calls)
        .contains(
            "Backup.verifyBackup",
            "Cnpg.awaitImport",
            "DataCheck.census:cnpg",
            "Helm.upgrade:finalizeUpgrade")
        .doesNotContain(
            "Helm.upgrade:stopOpsChain", "Backup.takeBackup", "Helm.upgrade:upgradeRelease");
    // The backup it re-verified is the first run's, by its directory.
    assertThat(
            fakes.arguments().subList(before, fakes.arguments().size()).stream()
                .filter(
                    com.limepoint.opschain.dbupgrade.activities.BackupActivities.VerifyRequest.class
                        ::isInstance)
                .map(a ->
                    ((com.limepoint.opschain.dbupgrade.activities.BackupActivities.VerifyRequest) a)
                        .hostDir()))
        .singleElement()
        .asString()
        .endsWith("/opschain-db-upgrade-opschain/" + firstRun);
  }

  private static String summary(HistoryEvent e) {
    return DefaultDataConverter.STANDARD_INSTANCE.fromPayload(
        e.getUserMetadata().getSummary(), String.class, String.class);
  }

  private static void assertCanceled(WorkflowClient client) {
    WorkflowStub stub = client.newUntypedWorkflowStub(UpgradeRequests.workflowId("opschain"));
    assertThatThrownBy(() -> stub.getResult(60, TimeUnit.SECONDS, Object.class))
        .isInstanceOf(WorkflowFailedException.class)
        .hasCauseInstanceOf(CanceledFailure.class);
  }
}
