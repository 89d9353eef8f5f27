package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.api.enums.v1.EventType;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starting the workflow as a user would, and waiting for its gates. */
final class WorkflowTestSupport {
  static final String NAMESPACE = "opschain";

  private WorkflowTestSupport() {}

  static UpgradeRequest request() {
    return UpgradeRequest.of(
        NAMESPACE,
        "opschain",
        "opschain/opschain",
        FakeActivities.DEPLOYED_VERSION,
        "2026-02-10",
        "/etc/opschain/values.yaml");
  }

  static DbUpgradeWorkflow newStub(WorkflowClient client, String taskQueue, String namespace) {
    return client.newWorkflowStub(
        DbUpgradeWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(taskQueue)
            .setWorkflowId(UpgradeRequests.workflowId(namespace))
            .build());
  }

  static DbUpgradeWorkflow start(WorkflowClient client, String taskQueue, UpgradeRequest request) {
    DbUpgradeWorkflow wf = newStub(client, taskQueue, request.namespace());
    WorkflowClient.start(wf::run, request);
    return wf;
  }

  static UpgradeReport result(WorkflowClient client, String namespace) {
    return client
        .newUntypedWorkflowStub(UpgradeRequests.workflowId(namespace))
        .getResult(UpgradeReport.class);
  }

  /** Polls the status query until the gate is open (time is locked while no result is awaited). */
  static UpgradeStatus awaitGate(DbUpgradeWorkflow wf, Gate gate) {
    long deadline = System.nanoTime() + 20_000_000_000L;
    UpgradeStatus s = null;
    while (System.nanoTime() < deadline) {
      s = wf.status();
      if (s.openGate() != null && s.openGate().gate() == gate) {
        return s;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new AssertionError("gate " + gate + " did not open; last status: " + s);
  }

  static int historyLength(WorkflowClient client, String workflowId) {
    return client.fetchHistory(workflowId).getEvents().size();
  }

  static long countEvents(WorkflowClient client, String workflowId, EventType type) {
    return client.fetchHistory(workflowId).getEvents().stream()
        .filter(e -> e.getEventType() == type)
        .count();
  }

  /**
   * Writes the history to target/histories; with -Dhistories.update=true also to the committed
   * src/test/resources/histories that the replay test reads.
   */
  static void exportHistory(WorkflowClient client, String workflowId, String name) {
    String json = client.fetchHistory(workflowId).toJson(true);
    try {
      Path out = Path.of("target", "histories", name + ".json");
      Files.createDirectories(out.getParent());
      Files.writeString(out, json);
      if (Boolean.getBoolean("histories.update")) {
        Path committed = Path.of("src", "test", "resources", "histories", name + ".json");
        Files.createDirectories(committed.getParent());
        Files.writeString(committed, json);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The {@link FakeActivities#calls()} name of each step's activity call, in the table's order: a
   * Helm upgrade names its step, a values file its kind, a hibernation its direction. Gates and the
   * child workflow make no activity call of their own.
   */
  static List<String> calls(List<RunbookStep> steps) {
    List<String> calls = new ArrayList<>();
    for (RunbookStep s : steps) {
      if (s.activity() == null || s == RunbookStep.MANUAL_RESTORE) {
        continue;
      }
      String suffix =
          switch (s.activity()) {
            case "Helm.upgrade" -> ":" + s.id();
            case "Values.prepareValues" ->
                ":"
                    + s.id()
                        .replace("prepare", "")
                        .replace("check", "")
                        .replace("Values", "")
                        .toUpperCase();
            case "Cnpg.setHibernation" -> s == RunbookStep.HIBERNATE_ON ? ":on" : ":off";
            case "DataCheck.census" ->
                s == RunbookStep.SOURCE_CENSUS
                    ? ":source"
                    : s == RunbookStep.CHECK_PARITY ? ":cnpg" : ":restored";
            default -> "";
          };
      calls.add(s.activity() + suffix);
    }
    return List.copyOf(calls);
  }

  static List<String> calls(RunbookStep first, RunbookStep last) {
    return calls(RunbookStep.range(first, last));
  }
}
