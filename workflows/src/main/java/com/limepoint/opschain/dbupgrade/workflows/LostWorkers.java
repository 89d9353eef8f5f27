package com.limepoint.opschain.dbupgrade.workflows;

import io.temporal.api.enums.v1.RetryState;
import io.temporal.api.enums.v1.TimeoutType;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Workflow;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import org.slf4j.Logger;

/**
 * The long activities (backup, data checks, Helm, the restore pod) have three attempts, so that a
 * step that keeps failing ends and OpsChain is put back instead of retrying for hours. A worker
 * that is lost (killed, evicted, its node drained) also costs an attempt: its attempt ends by
 * heartbeat timeout. Three lost workers in a row used to end the upgrade, although nothing failed
 * (seen with {@code bin/chaos 30}: takeBackup killed three times). Here a step whose attempts ran
 * out and whose last attempt ended by heartbeat timeout is scheduled again, a new round of
 * attempts, up to {@link #ROUNDS} rounds; a step whose last attempt failed by itself still ends.
 * The activities are idempotent and fenced, and the fence's token grows across rounds too (the pod
 * fence orders attempts by their activity's scheduled time, then their number), so a new round
 * stops whatever a lost attempt left running, then resumes or redoes its work.
 */
final class LostWorkers {
  private static final Logger log = Workflow.getLogger(LostWorkers.class);

  /** Rounds of attempts a step may spend on lost workers: 5 × 3 attempts, each ≥ a heartbeat. */
  static final int ROUNDS = 5;

  private LostWorkers() {}

  /** {@code stub}, each of whose calls gets new rounds when all its attempts lost their worker. */
  static <T> T survive(Class<T> type, T stub) {
    return type.cast(
        Proxy.newProxyInstance(
            type.getClassLoader(),
            new Class<?>[] {type},
            (proxy, method, args) -> call(stub, method, args)));
  }

  private static Object call(Object stub, Method method, Object[] args) throws Throwable {
    if (method.getDeclaringClass() == Object.class) {
      return method.invoke(stub, args);
    }
    for (int round = 1; ; round++) {
      try {
        return method.invoke(stub, args);
      } catch (InvocationTargetException e) {
        Throwable failure = e.getCause();
        if (round >= ROUNDS
            || !lostEveryAttempt(failure)
            || io.temporal.workflow.CancellationScope.current().isCancelRequested()) {
          throw failure;
        }
        log.warn(
            "{}: every attempt of round {} of {} lost its worker (heartbeat timeout); scheduling"
                + " it again",
            ((ActivityFailure) failure).getActivityType(),
            round,
            ROUNDS);
      }
    }
  }

  /** The attempts ran out, and the last one ended by heartbeat timeout: its worker was gone. */
  static boolean lostEveryAttempt(Throwable e) {
    return e instanceof ActivityFailure af
        && af.getRetryState() == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
        && af.getCause() instanceof TimeoutFailure tf
        && tf.getTimeoutType() == TimeoutType.TIMEOUT_TYPE_HEARTBEAT;
  }
}
