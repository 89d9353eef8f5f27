package com.limepoint.opschain.dbupgrade.workflows;

import io.temporal.worker.WorkerOptions;
import java.time.Duration;

/**
 * The options of each queue the worker polls: its activity slots, and whether workflow tasks may go
 * to this worker's sticky queue.
 *
 * <p>Against a real Temporal server they may: when the worker dies, the server's sticky
 * schedule-to-start timeout (the SDK's 5 s default) sends the next task to the normal queue. The
 * Java SDK's test server (the dev mode's fallback, and the tests) ignores that timeout and keeps
 * routing tasks to the dead worker's sticky queue, where nobody ever polls (sdk-java 1.38 {@code
 * TestWorkflowStoreImpl.save}; issue 18). With {@code stickyQueues} false the timeout is zero, and
 * then the SDK sends no sticky attributes with a completed workflow task (sdk-java 1.38 {@code
 * ReplayWorkflowTaskHandler}: a zero timeout skips {@code setStickyAttributes}), so every task goes
 * to the normal queue and any live worker takes it.
 */
public final class QueueOptions {
  private QueueOptions() {}

  public static WorkerOptions of(int activitySlots, boolean stickyQueues) {
    WorkerOptions.Builder b =
        WorkerOptions.newBuilder()
            .setMaxConcurrentActivityExecutionSize(activitySlots)
            .setMaxConcurrentLocalActivityExecutionSize(activitySlots);
    if (!stickyQueues) {
      b.setStickyQueueScheduleToStartTimeout(Duration.ZERO);
    }
    return b.build();
  }
}
