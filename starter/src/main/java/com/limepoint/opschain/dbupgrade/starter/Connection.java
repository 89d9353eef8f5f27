package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One command's link to Temporal: the service stubs and the client, built once per invocation and
 * shut down when the command ends (use it in try-with-resources). Upgrades are found by the
 * namespace they upgrade ({@link UpgradeRequests#workflowId}).
 */
final class Connection implements AutoCloseable {
  /** How long closing waits for calls in flight; the command has its answer by then. */
  private static final long CLOSE_WAIT_SECONDS = 5;

  private final WorkflowServiceStubs stubs;
  private final WorkflowClient client;
  private final String taskQueue;

  Connection(String target, WorkflowClientOptions options, String taskQueue) {
    this.taskQueue = taskQueue;
    stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(target).build());
    client = WorkflowClient.newInstance(stubs, options);
  }

  /** The upgrade of an OpsChain namespace: the running one, or else the last. */
  DbUpgradeWorkflow upgrade(String namespace) {
    return client.newWorkflowStub(DbUpgradeWorkflow.class, UpgradeRequests.workflowId(namespace));
  }

  /** Starts an upgrade; {@code WorkflowExecutionAlreadyStarted} when one of that namespace runs. */
  DbUpgradeWorkflow start(UpgradeRequest request) {
    DbUpgradeWorkflow wf =
        client.newWorkflowStub(
            DbUpgradeWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(taskQueue)
                .setWorkflowId(UpgradeRequests.workflowId(request.namespace()))
                .build());
    WorkflowClient.start(wf::run, request);
    return wf;
  }

  /** Waits for the upgrade's report; {@code WorkflowFailedException} when the workflow failed. */
  UpgradeReport report(String namespace) {
    return client
        .newUntypedWorkflowStub(UpgradeRequests.workflowId(namespace))
        .getResult(UpgradeReport.class);
  }

  /** The converter the client decodes payloads with (through the codec when encryption is on). */
  io.temporal.common.converter.DataConverter dataConverter() {
    return client.getOptions().getDataConverter();
  }

  /**
   * The upgrade's last run as the server records it: running, or closed and how (completed, failed,
   * cancelled, terminated, timed out, continued as new).
   */
  io.temporal.api.enums.v1.WorkflowExecutionStatus executionStatus(String namespace) {
    return client
        .getWorkflowServiceStubs()
        .blockingStub()
        .describeWorkflowExecution(
            io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest.newBuilder()
                .setNamespace(client.getOptions().getNamespace())
                .setExecution(
                    io.temporal.api.common.v1.WorkflowExecution.newBuilder()
                        .setWorkflowId(UpgradeRequests.workflowId(namespace)))
                .build())
        .getWorkflowExecutionInfo()
        .getStatus();
  }

  /** The upgrade's history events, oldest first. */
  List<HistoryEvent> history(String namespace) {
    return client.fetchHistory(UpgradeRequests.workflowId(namespace)).getEvents();
  }

  @Override
  public void close() {
    stubs.shutdown();
    if (!stubs.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
      stubs.shutdownNow();
    }
  }
}
