package com.limepoint.opschain.dbupgrade.workflows;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.testing.WorkflowReplayer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays every committed history (src/test/resources/histories) against today's workflow code. A
 * change to the command sequence without {@code Workflow.getVersion} fails here. Refresh the files
 * with {@code ./mvnw -pl workflows test -Dhistories.update=true} only for a deliberate, versioned
 * change, and keep the old ones.
 */
class HistoryReplayTest {

  static Stream<Path> histories() throws IOException {
    Path dir = Path.of("src", "test", "resources", "histories");
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".json")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("histories")
  void committedHistoryReplays(Path history) throws Exception {
    String json = Files.readString(history);
    WorkflowExecutionHistory h =
        WorkflowExecutionHistory.fromJson(
            json, workflowId(WorkflowExecutionHistory.fromJson(json)));
    assertThat(h.getEvents()).hasSizeGreaterThan(10);

    WorkflowReplayer.replayWorkflowExecution(
        h, DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class);
  }

  /**
   * The id the workflow ran under (the workflow checks it): a child's comes from its parent, the
   * parent's from the namespace in its input.
   */
  static String workflowId(WorkflowExecutionHistory h) {
    var started = h.getEvents().get(0).getWorkflowExecutionStartedEventAttributes();
    if (started.hasParentWorkflowExecution()) {
      return started.getParentWorkflowExecution().getWorkflowId() + "-manual-restore";
    }
    UpgradeRequest request =
        DefaultDataConverter.STANDARD_INSTANCE.fromPayload(
            started.getInput().getPayloads(0), UpgradeRequest.class, UpgradeRequest.class);
    return UpgradeRequests.workflowId(request.namespace());
  }

  @org.junit.jupiter.api.Test
  void theHappyPathAndTheFallbackAreCommitted() throws IOException {
    assertThat(histories().map(p -> p.getFileName().toString()))
        .contains(
            "happy-path.json",
            "manual-restore-parent.json",
            "manual-restore-child.json",
            "e2e-automatic.json",
            "e2e-manual-restore-parent.json",
            "e2e-manual-restore-child.json",
            "e2e-abort.json",
            // path-overlap, run-scoped-host-dir and checked-compensation
            "e2e-run-scoped-automatic.json",
            "e2e-run-scoped-manual-restore-parent.json",
            "e2e-run-scoped-manual-restore-child.json",
            "e2e-run-scoped-abort.json",
            // continuable-stops, values-at-preflight, cluster-queue and restore-checks
            "v14-happy-path.json",
            "v14-manual-restore-parent.json",
            "v14-manual-restore-child.json",
            "retry-step-manual-restore-parent.json",
            "retry-step-manual-restore-child.json",
            "e2e-v14-automatic.json",
            "e2e-v14-manual-restore-parent.json",
            "e2e-v14-manual-restore-child.json",
            "e2e-v14-abort.json",
            // backup-modes: streamed to the host, zstd where the server compresses
            "e2e-v17-automatic.json",
            "e2e-v17-manual-restore-parent.json",
            "e2e-v17-manual-restore-child.json",
            "e2e-v17-abort.json",
            // auto-format: a request without a format is backed up with zstd where it can be
            "e2e-v18-automatic.json",
            "e2e-v18-manual-restore-parent.json",
            "e2e-v18-manual-restore-child.json",
            "e2e-v18-abort.json");
  }
}
