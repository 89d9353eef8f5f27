package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import io.temporal.api.common.v1.Payload;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.common.v1.WorkflowType;
import io.temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage;
import io.temporal.api.query.v1.WorkflowQuery;
import io.temporal.api.taskqueue.v1.TaskQueue;
import io.temporal.api.update.v1.Input;
import io.temporal.api.update.v1.Meta;
import io.temporal.api.update.v1.Outcome;
import io.temporal.api.update.v1.Request;
import io.temporal.api.update.v1.WaitPolicy;
import io.temporal.api.workflowservice.v1.QueryWorkflowRequest;
import io.temporal.api.workflowservice.v1.SignalWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.StartWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.UpdateWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.WorkflowServiceGrpc.WorkflowServiceBlockingStub;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The workflow driven exactly as the {@code temporal} CLI drives it: raw gRPC calls whose payloads
 * are {@code json/plain} bytes (no Java SDK client, no data converter on our side), against the
 * dev-mode server. The signal and update inputs are the README's examples, word for word; the start
 * input is the request file the README's dev-mode example passes with {@code --input-file}.
 */
class TemporalCliContractIT {
  static final String WORKFLOW_ID = "opschain-db-upgrade-opschain";
  static final String APPROVE_START =
      "{\"gate\":\"START\",\"by\":\"alice\",\"comment\":\"downtime announced\"}";
  static final String APPROVE_BACKUP =
      "{\"gate\":\"BACKUP_VERIFIED\",\"by\":\"alice\",\"comment\":\"sizes and SHA-256 match\"}";
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void rawGrpcStartSignalUpdateAndQueryWithJsonPlainPayloads() throws Exception {
    assumeTrue(LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    String readme = Files.readString(Path.of("../README.md"));
    assertThat(readme)
        .contains(
            "--input '" + APPROVE_START + "'",
            "--input '" + APPROVE_BACKUP + "'",
            "--input-file /tmp/opschain-demo/request.json");
    DevMode dev = DevMode.start("cli-", Map.of());
    Path demoDir = dev.demoDir();
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(dev.target()).build());
    try {
      WorkflowServiceBlockingStub rpc = stubs.blockingStub();
      WorkflowExecution execution =
          WorkflowExecution.newBuilder().setWorkflowId(WORKFLOW_ID).build();

      // temporal workflow start --type DbUpgradeWorkflow --task-queue opschain-db-upgrade
      //   --workflow-id opschain-db-upgrade-opschain --input-file <demoDir>/request.json
      var started =
          rpc.startWorkflowExecution(
              StartWorkflowExecutionRequest.newBuilder()
                  .setNamespace("default")
                  .setWorkflowId(WORKFLOW_ID)
                  .setWorkflowType(WorkflowType.newBuilder().setName("DbUpgradeWorkflow"))
                  .setTaskQueue(TaskQueue.newBuilder().setName("opschain-db-upgrade"))
                  .setInput(jsonPlain(Files.readString(demoDir.resolve("request.json"))))
                  .setIdentity("temporal-cli")
                  .setRequestId(UUID.randomUUID().toString())
                  .build());
      assertThat(started.getRunId()).isNotEmpty();

      // temporal workflow query --name status, until the START gate is open
      JsonNode status =
          awaitStatus(rpc, execution, s -> "START".equals(s.at("/openGate/gate").asText()));
      assertThat(status.get("phase").asText()).isEqualTo("AWAITING_APPROVAL");

      // temporal workflow signal --name approve --input '{"gate":"START",...}'
      rpc.signalWorkflowExecution(
          SignalWorkflowExecutionRequest.newBuilder()
              .setNamespace("default")
              .setWorkflowExecution(execution)
              .setSignalName("approve")
              .setInput(jsonPlain(APPROVE_START))
              .setIdentity("temporal-cli")
              .setRequestId(UUID.randomUUID().toString())
              .build());
      status =
          awaitStatus(
              rpc, execution, s -> "BACKUP_VERIFIED".equals(s.at("/openGate/gate").asText()));
      assertThat(status.at("/approvals/0/gate").asText()).isEqualTo("START");
      assertThat(status.at("/approvals/0/by").asText()).isEqualTo("alice");
      assertThat(status.at("/backup/verified").asBoolean()).isTrue();

      // temporal workflow update execute --name approveGate: a wrong gate is refused by the
      // validator, with the reason; the README's input is accepted and answers the status.
      Outcome refused = update(rpc, execution, "{\"gate\":\"FINALIZE\",\"by\":\"alice\"}");
      assertThat(refused.hasFailure()).isTrue();
      assertThat(refused.getFailure().getMessage())
          .contains("FINALIZE")
          .contains("BACKUP_VERIFIED");
      Outcome accepted = update(rpc, execution, APPROVE_BACKUP);
      assertThat(accepted.hasSuccess()).as(accepted.toString()).isTrue();
      JsonNode answer =
          JSON.readTree(accepted.getSuccess().getPayloads(0).getData().toStringUtf8());
      assertThat(answer.at("/approvals/1/gate").asText()).isEqualTo("BACKUP_VERIFIED");

      // temporal workflow query --name status: the raw JSON a script would read
      status =
          awaitStatus(
              rpc,
              execution,
              s ->
                  s.at("/approvals").size() == 2
                      && !"BACKUP_VERIFIED".equals(s.at("/openGate/gate").asText()));
      System.out.println(
          "status after the update: phase "
              + status.get("phase").asText()
              + ", open gate "
              + status.at("/openGate/gate").asText("none")
              + ", "
              + status.get("steps").size()
              + " steps");
      assertThat(status.at("/approvals/1/by").asText()).isEqualTo("alice");
      assertThat(status.at("/approvals/1/comment").asText()).isEqualTo("sizes and SHA-256 match");

      // temporal workflow terminate: the test ends here, without waiting for the rest.
      rpc.terminateWorkflowExecution(
          io.temporal.api.workflowservice.v1.TerminateWorkflowExecutionRequest.newBuilder()
              .setNamespace("default")
              .setWorkflowExecution(execution)
              .setReason("test done")
              .setIdentity("temporal-cli")
              .build());
    } finally {
      stubs.shutdownNow();
      dev.close();
    }
  }

  private static Payloads jsonPlain(String json) {
    return Payloads.newBuilder()
        .addPayloads(
            Payload.newBuilder()
                .putMetadata("encoding", ByteString.copyFromUtf8("json/plain"))
                .setData(ByteString.copyFrom(json, StandardCharsets.UTF_8)))
        .build();
  }

  private static Outcome update(
      WorkflowServiceBlockingStub rpc, WorkflowExecution execution, String json) {
    var response =
        rpc.updateWorkflowExecution(
            UpdateWorkflowExecutionRequest.newBuilder()
                .setNamespace("default")
                .setWorkflowExecution(execution)
                .setWaitPolicy(
                    WaitPolicy.newBuilder()
                        .setLifecycleStage(
                            UpdateWorkflowExecutionLifecycleStage
                                .UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED))
                .setRequest(
                    Request.newBuilder()
                        .setMeta(
                            Meta.newBuilder()
                                .setUpdateId(UUID.randomUUID().toString())
                                .setIdentity("temporal-cli"))
                        .setInput(
                            Input.newBuilder().setName("approveGate").setArgs(jsonPlain(json))))
                .build());
    return response.getOutcome();
  }

  private static JsonNode awaitStatus(
      WorkflowServiceBlockingStub rpc, WorkflowExecution execution, Predicate<JsonNode> until)
      throws Exception {
    JsonNode status = null;
    for (int i = 0; i < 300; i++) {
      var r =
          rpc.queryWorkflow(
              QueryWorkflowRequest.newBuilder()
                  .setNamespace("default")
                  .setExecution(execution)
                  .setQuery(WorkflowQuery.newBuilder().setQueryType("status"))
                  .build());
      Payload p = r.getQueryResult().getPayloads(0);
      assertThat(p.getMetadataOrThrow("encoding").toStringUtf8()).isEqualTo("json/plain");
      status = JSON.readTree(p.getData().toStringUtf8());
      if (until.test(status)) {
        return status;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the status never reached the expected state; last: " + status);
  }
}
