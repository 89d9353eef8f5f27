package com.limepoint.opschain.dbupgrade.workflows;

import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.ChildWorkflowFailure;
import io.temporal.failure.TemporalFailure;
import io.temporal.failure.TimeoutFailure;

/** Reading failures that come back from activities and child workflows. */
final class Failures {
  private Failures() {}

  /** The innermost ApplicationFailure type, or the failure's class when there is none. */
  static String type(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ApplicationFailure af) {
        return af.getType();
      }
      if (t instanceof TimeoutFailure) {
        return "Timeout";
      }
      if (t instanceof CanceledFailure) {
        return "Canceled";
      }
    }
    return e.getClass().getSimpleName();
  }

  /** One line for a person: the type and the original message of the root failure. */
  static String describe(Throwable e) {
    String notPickedUp = notPickedUp(e);
    if (notPickedUp != null) {
      return "HostGone: no worker of the host took "
          + notPickedUp
          + " within its schedule-to-start";
    }
    Throwable root = e;
    while ((root instanceof ActivityFailure || root instanceof ChildWorkflowFailure)
        && root.getCause() != null) {
      root = root.getCause();
    }
    String msg =
        root instanceof TemporalFailure tf
            ? tf.getOriginalMessage()
            : String.valueOf(root.getMessage());
    return type(e) + ": " + msg;
  }

  /**
   * The activity type when no worker picked the activity up within its schedule-to-start timeout
   * (only the host-queue activities have one: the worker that holds the backup is gone), else null.
   */
  static String notPickedUp(Throwable e) {
    if (e instanceof ActivityFailure af
        && af.getCause() instanceof TimeoutFailure tf
        && tf.getTimeoutType()
            == io.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      return af.getActivityType();
    }
    return null;
  }

  static boolean isCancellation(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CanceledFailure) {
        return true;
      }
    }
    return false;
  }
}
