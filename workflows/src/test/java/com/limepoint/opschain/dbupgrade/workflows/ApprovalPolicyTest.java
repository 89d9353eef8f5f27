package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.model.ApprovalPolicy;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The worker's approvers are the policy; a request may narrow them, never widen them. */
class ApprovalPolicyTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  final FakeActivities fakes = new FakeActivities();

  private void worker(ApprovalPolicy policy) {
    when(fakes.host.claimHost(any()))
        .thenReturn(
            new HostActivities.HostQueue(
                "test-host",
                FakeActivities.HOST_QUEUE,
                false,
                policy.approvers(),
                null,
                null,
                policy));
  }

  private static ApprovalPolicy approvers(String... names) {
    return new ApprovalPolicy(List.of(names), false, false, List.of());
  }

  /** The run fails before any step after claimHost, with this refusal. */
  private void refusedBeforeAnyStep(WorkflowClient client, String... words) {
    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> result(client, "opschain"));
    ApplicationFailure f = (ApplicationFailure) e.getCause();
    assertThat(f.getType()).isEqualTo(FailureTypes.INVALID_REQUEST);
    assertThat(f.getOriginalMessage()).contains(words).contains("Nothing was changed");
    assertThat(fakes.calls()).containsExactly("Host.claimHost");
  }

  @Test
  void requestApproversCannotWidenTheWorkers(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    worker(approvers("alice", "bob"));
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request().withApprovers(List.of("alice", "mallory")));

    refusedBeforeAnyStep(client, "[mallory]", "OPSCHAIN_APPROVERS: [alice, bob]", "only narrow");
  }

  @Test
  void aRequestNarrowsTheWorkersApprovers(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    worker(approvers("alice", "bob"));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf =
        start(client, worker.getTaskQueue(), request().withApprovers(List.of("bob")));
    awaitGate(wf, Gate.START);

    assertThatThrownBy(() -> wf.approveGate(new GateDecision("START", "alice", null)))
        .hasStackTraceContaining("'alice' is not an approver (approvers: bob)");
    wf.approveGate(new GateDecision("START", "bob", null));
    assertThat(awaitGate(wf, Gate.BACKUP_VERIFIED).openGate().approvers()).containsExactly("bob");
  }

  @Test
  void aWorkerWithNoApproversConfiguredRefusesToStartAnUpgrade(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    worker(new ApprovalPolicy(List.of(), false, false, List.of()));
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request().withApprovers(List.of("alice")));

    refusedBeforeAnyStep(client, "no approvers configured", "OPSCHAIN_ANYONE_MAY_APPROVE");
  }

  @Test
  void skipGatesIsRefusedOnAProductionWorker(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    worker(approvers("alice"));
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request().withSkipGates(true));

    refusedBeforeAnyStep(client, "skipGates is honoured only by the dev-mode worker");
  }

  @Test
  void anApprovalForAnOpeningOfAnEarlierRunIsRefusedAndItsSignalIgnored(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    worker(approvers("alice", "bob"));
    fakes.register(env, worker);
    DbUpgradeWorkflow first = start(client, worker.getTaskQueue(), request());
    String old = awaitGate(first, Gate.START).openGate().opening();
    first.reject(new GateDecision("START", "alice", "not today", old));
    assertThat(result(client, "opschain").outcome()).isEqualTo(Outcome.ABORTED);

    DbUpgradeWorkflow second = start(client, worker.getTaskQueue(), request());
    String now = awaitGate(second, Gate.START).openGate().opening();
    assertThat(now).isNotEqualTo(old).endsWith(":START#1");
    assertThatThrownBy(() -> second.approveGate(new GateDecision("START", "alice", null, old)))
        .hasStackTraceContaining("the decision is for opening " + old)
        .hasStackTraceContaining("an old decision sent again?");
    second.approve(new GateDecision("START", "bob", "replayed", old));
    assertThat(awaitGate(second, Gate.START).approvals())
        .anyMatch(a -> a.decision().equals("IGNORED") && a.note().contains(old));
    second.approveGate(new GateDecision("START", "alice", null, now));
    awaitGate(second, Gate.BACKUP_VERIFIED);
  }

  @Test
  void finalizeNeedsASecondDifferentApprover(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    worker(
        new ApprovalPolicy(
            List.of("alice", "bob"), false, false, ApprovalPolicy.DEFAULT_SECOND_APPROVER_GATES));
    fakes.register(env, worker);
    UpgradeRequest r = request();
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), r);
    for (Gate g : List.of(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED)) {
      awaitGate(wf, g);
      wf.approveGate(new GateDecision(g.name(), "alice", null));
    }
    awaitGate(wf, Gate.FINALIZE);

    wf.approveGate(new GateDecision("FINALIZE", "alice", "first"));
    assertThat(wf.status().openGate().gate()).as("still open after one").isEqualTo(Gate.FINALIZE);
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("FINALIZE", "alice", "again")))
        .hasStackTraceContaining("needs a second approval by someone other than alice");
    assertThat(fakes.calls()).doesNotContain("Helm.upgrade:finalizeUpgrade");
    wf.approveGate(new GateDecision("FINALIZE", "bob", "second"));

    assertThat(result(client, "opschain").outcome()).isEqualTo(Outcome.COMPLETED);
    assertThat(wf.status().approvals())
        .filteredOn(a -> a.gate().equals("FINALIZE") && a.decision().equals("APPROVED"))
        .extracting(a -> a.by())
        .containsExactly("alice", "bob");
  }
}
