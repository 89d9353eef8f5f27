package com.limepoint.opschain.dbupgrade.devmode;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;

/**
 * One upgrade of the demo driven through the SDK client as an operator would: start from the demo's
 * request, approve each gate when it opens, read the result. Every call retries while the server is
 * away (a durability test restarts it), so the driver itself survives what it tests.
 */
final class Upgrades implements AutoCloseable {
  static final String WORKFLOW_ID = "opschain-db-upgrade-opschain";

  private final WorkflowServiceStubs stubs;
  private final WorkflowClient client;
  private final DbUpgradeWorkflow wf;

  Upgrades(String target) {
    stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(target).build());
    client = WorkflowClient.newInstance(stubs);
    wf = client.newWorkflowStub(DbUpgradeWorkflow.class, WORKFLOW_ID);
  }

  void start(Path requestFile) throws Exception {
    UpgradeRequest request =
        new ObjectMapper().readValue(requestFile.toFile(), UpgradeRequest.class);
    DbUpgradeWorkflow starting =
        client.newWorkflowStub(
            DbUpgradeWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(WORKFLOW_ID)
                .setTaskQueue(DbUpgradeWorkflow.TASK_QUEUE)
                .build());
    WorkflowClient.start(starting::run, request);
  }

  /** Waits (up to {@code timeout}) until the status satisfies {@code until}. */
  UpgradeStatus await(Predicate<UpgradeStatus> until, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    UpgradeStatus last = null;
    RuntimeException error = null;
    while (System.nanoTime() < deadline) {
      try {
        last = wf.status();
        if (until.test(last)) {
          return last;
        }
      } catch (RuntimeException e) {
        error = e; // the server is restarting, or the workflow task is being retried
      }
      Thread.sleep(300);
    }
    throw new AssertionError("not reached within " + timeout + "; last status " + last, error);
  }

  UpgradeStatus awaitGate(Gate gate) throws Exception {
    return await(s -> s.openGate() != null && s.openGate().gate() == gate, Duration.ofMinutes(4));
  }

  UpgradeStatus awaitRunning(String step) throws Exception {
    return await(
        s ->
            s.steps().stream()
                .anyMatch(x -> x.name().equals(step) && x.state() == StepState.RUNNING),
        Duration.ofMinutes(4));
  }

  void approve(Gate gate) throws Exception {
    awaitGate(gate);
    wf.approveGate(new GateDecision(gate.name(), "alice", "checked"));
  }

  /** Approves every gate that opens until the workflow ends; its report. */
  UpgradeReport approveAllAndResult(Duration timeout) throws Exception {
    for (Gate gate :
        new Gate[] {Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE}) {
      UpgradeStatus s =
          await(
              x ->
                  x.openGate() != null && x.openGate().gate() == gate
                      || x.approvals().stream().anyMatch(a -> a.gate().equals(gate.name())),
              timeout);
      if (s.approvals().stream().noneMatch(a -> a.gate().equals(gate.name()))) {
        wf.approveGate(new GateDecision(gate.name(), "alice", "checked"));
      }
    }
    return WorkflowStub.fromTyped(wf)
        .getResult(timeout.toSeconds(), java.util.concurrent.TimeUnit.SECONDS, UpgradeReport.class);
  }

  /** The status now, or null while the server or the workflow task cannot answer. */
  UpgradeStatus statusOrNull() {
    try {
      return wf.status();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Approves {@code gate}; false when the call did not get through (it is tried again later). */
  boolean tryApprove(Gate gate) {
    try {
      wf.approveGate(new GateDecision(gate.name(), "alice", "checked"));
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** The report once the workflow has ended, waiting up to {@code timeout}. */
  UpgradeReport result(Duration timeout) throws Exception {
    return WorkflowStub.fromTyped(wf)
        .getResult(timeout.toSeconds(), java.util.concurrent.TimeUnit.SECONDS, UpgradeReport.class);
  }

  static long count(UpgradeReport report, String step, StepState state) {
    return report.steps().stream()
        .filter(s -> s.name().equals(step) && s.state() == state)
        .map(StepStatus::name)
        .count();
  }

  @Override
  public void close() {
    stubs.shutdownNow();
  }
}
