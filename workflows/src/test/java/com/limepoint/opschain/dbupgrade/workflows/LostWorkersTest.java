package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.activity.ActivityOptions;
import io.temporal.api.enums.v1.EventType;
import io.temporal.client.WorkflowClient;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkflowImplementationOptions;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker lost in the middle of a long activity costs that activity an attempt (heartbeat
 * timeout). Lost every attempt, the step gets new rounds ({@link LostWorkers}); a failure the
 * activity reports still ends it after its three attempts.
 */
class LostWorkersTest {
  /** takeBackup's heartbeat timeout here: a lost attempt is over in a second of real time. */
  static final Duration HEARTBEAT = Duration.ofSeconds(1);

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              WorkflowImplementationOptions.newBuilder()
                  .setActivityOptions(
                      Map.of(
                          "TakeBackup",
                          ActivityOptions.newBuilder().setHeartbeatTimeout(HEARTBEAT).build()))
                  .build(),
              DbUpgradeWorkflowImpl.class,
              ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  final FakeActivities fakes = new FakeActivities();

  @Test
  void aBackupWhoseWorkerWasLostFourTimesRunsAgainAndTheUpgradeCompletes(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    AtomicInteger attempts = new AtomicInteger();
    BackupActivities.PodBackup taken =
        new BackupActivities.PodBackup(
            "opschain-db-7d9f", "/tmp/backup", FakeActivities.FILES, false);
    // Attempts 1 to 4 never heartbeat and outlive the heartbeat timeout, as an attempt whose
    // worker was killed does; the fifth (the second round's second) completes.
    when(fakes.backup.takeBackup(any()))
        .thenAnswer(inv -> {
          if (attempts.incrementAndGet() <= 4) {
            Thread.sleep(HEARTBEAT.multipliedBy(3).toMillis());
          }
          return taken;
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    for (Gate g : new Gate[] {Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED}) {
      awaitGate(wf, g);
      wf.approveGate(new GateDecision(g.name(), "alice", null));
    }
    awaitGate(wf, Gate.FINALIZE);
    wf.approveGate(new GateDecision("FINALIZE", "alice", null));
    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.COMPLETED);
    assertThat(attempts.get()).isEqualTo(5);
    String id = UpgradeRequests.workflowId(WorkflowTestSupport.NAMESPACE);
    // Round one's three attempts end in one timed-out event; round two is a new activity.
    assertThat(
            WorkflowTestSupport.countEvents(
                client, id, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT))
        .isEqualTo(1);
    WorkflowTestSupport.exportHistory(client, id, "lost-workers");
  }

  @Test
  void aBackupThatFailsByItselfStillEndsAfterThreeAttemptsAndPutsOpsChainBack(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.backup.takeBackup(any()))
        .thenThrow(ApplicationFailure.newFailure("pg_basebackup exited 1", "PodCommandFailed"));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approveGate(new GateDecision("START", "alice", null));

    assertThatThrownBy(() -> result(client, WorkflowTestSupport.NAMESPACE))
        .cause()
        .hasMessageContaining("pg_basebackup exited 1")
        .hasMessageContaining("back in service on " + FakeActivities.DEPLOYED_VERSION);
    assertThat(fakes.calls()).filteredOn("Backup.takeBackup"::equals).hasSize(3);
  }
}
