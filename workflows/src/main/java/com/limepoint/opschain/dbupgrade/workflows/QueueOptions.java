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

  /**
   * The longest a heartbeat waits in the SDK before it is sent, and so how soon a running activity
   * learns that it was cancelled (an abort, or a cancel from the Web UI): the SDK sends at most
   * every 0.8 x the heartbeat timeout (36 s for the long steps' 45 s) unless this caps it, and the
   * server's answer to a sent heartbeat is the only way a cancel reaches the activity (sdk-java
   * 1.38 HeartbeatContextImpl). The compensation waits for the cancelled activity to stop
   * (WAIT_CANCELLATION_COMPLETED), so this bounds that wait too.
   */
  public static final Duration HEARTBEAT_SENT_WITHIN = Duration.ofSeconds(3);

  public static WorkerOptions of(int activitySlots, boolean stickyQueues) {
    WorkerOptions.Builder b =
        WorkerOptions.newBuilder()
            .setMaxConcurrentActivityExecutionSize(activitySlots)
            .setMaxConcurrentLocalActivityExecutionSize(activitySlots)
            .setMaxHeartbeatThrottleInterval(HEARTBEAT_SENT_WITHIN);
    if (!stickyQueues) {
      b.setStickyQueueScheduleToStartTimeout(Duration.ZERO);
    }
    return b.build();
  }
}
