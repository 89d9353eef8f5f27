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
 * change to the command sequence fails here. Before 1.0 such a change re-records them all: {@code
 * -Dhistories.update=true} on the tests that write them (eachScenarioIsCommitted names them).
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

  /**
   * One history per scenario, recorded by the tests named in the comments. Until 1.0 a change to
   * the command sequence re-records them all (see docs/development.md): they are today's.
   */
  @org.junit.jupiter.api.Test
  void eachScenarioIsCommitted() throws IOException {
    assertThat(histories().map(p -> p.getFileName().toString()))
        .containsExactlyInAnyOrder(
            // DbUpgradeWorkflowTest
            "happy-path.json",
            "search-attributes.json",
            "manual-restore-parent.json",
            "manual-restore-child.json",
            // StopsAfterPointOfNoReturnTest
            "retry-step-manual-restore-parent.json",
            "retry-step-manual-restore-child.json",
            // CancelAndGatesTest
            "cancel-before-point-of-no-return.json",
            "continued-after-cancel.json",
            // LostWorkersTest
            "lost-workers.json",
            // UpgradeEndToEndIT: the real activities on the cluster-in-a-box
            "e2e-automatic.json",
            "e2e-manual-restore-parent.json",
            "e2e-manual-restore-child.json",
            "e2e-abort.json");
  }
}
