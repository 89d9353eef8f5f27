package com.limepoint.opschain.dbupgrade;

import io.temporal.activity.ActivityOptions;
import io.temporal.testing.TestActivityEnvironment;
import java.time.Duration;

/**
 * Activity stubs for {@link TestActivityEnvironment} with the workflow's heartbeat timeout.
 *
 * <p>The environment's own {@code newActivityStub(Class)} sets a 1 s heartbeat timeout. sdk-java
 * 1.38's {@code HeartbeatContextImpl} cancels an attempt locally ("Activity heartbeat timed out
 * locally") when no heartbeat came within that timeout plus {@code
 * temporal.activity.localTimeoutBufferMs} (5 s by default): 6 s. Our waits heartbeat every {@code
 * Heartbeats.CADENCE} (5 s) checked each {@code SLICE} (1 s), so a gap can reach 6 s and a test
 * would now and then end in {@code CanceledFailure canceled} that the workflow's 45 s heartbeat
 * timeout never causes.
 */
public final class ActivityStubs {
  private ActivityStubs() {}

  /** As {@code UpgradeActivities.HEARTBEAT}: 45 s. */
  public static final Duration HEARTBEAT = Duration.ofSeconds(45);

  public static final ActivityOptions OPTIONS =
      ActivityOptions.newBuilder()
          .setScheduleToCloseTimeout(Duration.ofDays(1))
          .setHeartbeatTimeout(HEARTBEAT)
          .build();

  public static <T> T of(TestActivityEnvironment env, Class<T> type) {
    return env.newActivityStub(type, OPTIONS);
  }

  /**
   * With a shorter heartbeat timeout: the SDK sends heartbeats at most every 80 % of it, so a test
   * that cancels an attempt learns it sooner. Keep it over 6 s (see above).
   */
  public static <T> T of(TestActivityEnvironment env, Class<T> type, Duration heartbeat) {
    return env.newActivityStub(
        type,
        ActivityOptions.newBuilder()
            .setScheduleToCloseTimeout(Duration.ofDays(1))
            .setHeartbeatTimeout(heartbeat)
            .build());
  }
}
