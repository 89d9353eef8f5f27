package com.limepoint.opschain.dbupgrade.kube;

import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import java.util.List;
import java.util.Optional;

/**
 * Heartbeat details of long activities: what the Web UI shows on the pending activity, and what a
 * retried attempt resumes from.
 *
 * @param file the file being copied, when copying
 * @param offset bytes of {@code file} that are durably on the target (fsynced)
 */
public final class Heartbeats {
  private Heartbeats() {}

  public record Checkpoint(
      String step, String file, long offset, long total, Double percent, String message, List<String> log) {
    public Checkpoint {
      log = log == null ? List.of() : List.copyOf(log);
    }
  }

  /** Records progress; the SDK sends it at most every ~80% of the heartbeat timeout. */
  public static void beat(Checkpoint checkpoint) {
    context().ifPresent(c -> c.heartbeat(checkpoint));
  }

  /** The details of the previous attempt's last heartbeat, if this is a retry. */
  public static Optional<Checkpoint> last() {
    return context().flatMap(c -> c.getHeartbeatDetails(Checkpoint.class));
  }

  public static String workflowId() {
    return context().map(c -> c.getInfo().getWorkflowId()).orElse("no-workflow");
  }

  private static Optional<ActivityExecutionContext> context() {
    try {
      return Optional.of(Activity.getExecutionContext());
    } catch (IllegalStateException e) {
      return Optional.empty();
    }
  }
}
