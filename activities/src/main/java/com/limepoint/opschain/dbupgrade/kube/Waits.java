package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.activities.WaitResult;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.temporal.activity.Activity;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Waiting on cluster state without sleep loops: informers (a watch with a re-list on reconnect and
 * a bounded resync) wake the check on every change; between changes the wait heartbeats every few
 * seconds with what it sees.
 */
public final class Waits {
  /**
   * Failure type of a wait that ran out of time. Non-retryable: the time counts from the activity's
   * first attempt, so a retry would only time out again.
   */
  public static final String WAIT_TIMED_OUT = "WaitTimedOut";

  /** How often informers re-deliver their cache even without events. */
  static final long RESYNC_MILLIS = 30_000;

  private static final long BEAT_MILLIS = 5_000;

  private Waits() {}

  /**
   * When the activity's first attempt was scheduled (the same for every retry); now outside an
   * activity.
   */
  public static Instant firstScheduled() {
    try {
      return Instant.ofEpochMilli(Activity.getExecutionContext().getInfo().getScheduledTimestamp());
    } catch (IllegalStateException e) {
      return Instant.now();
    }
  }

  /** Wakes the waiter on any event of the informers it is registered with. */
  public static final class Wake implements ResourceEventHandler<Object> {
    private final Semaphore signal = new Semaphore(0);

    @Override
    public void onAdd(Object obj) {
      signal.release();
    }

    @Override
    public void onUpdate(Object oldObj, Object newObj) {
      signal.release();
    }

    @Override
    public void onDelete(Object obj, boolean deletedFinalStateUnknown) {
      signal.release();
    }
  }

  /**
   * Starts the informers (each built with the shared {@link Wake}), then evaluates {@code check} at
   * start and after each change until it answers; {@code status} describes the current state for
   * heartbeats and the timeout message. {@code timeout} counts from the first attempt of the
   * activity that waits ({@link #firstScheduled}): a retry after a lost worker or an API error
   * waits for what is left, not for the whole time again, so retries are bounded by time.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  public static <T> T until(
      String step,
      List<Function<ResourceEventHandler, SharedIndexInformer<?>>> informers,
      Supplier<Optional<T>> check,
      Supplier<String> status,
      Duration timeout) {
    Wake wake = new Wake();
    List<SharedIndexInformer<?>> started = new ArrayList<>();
    Duration remaining = Duration.between(Instant.now(), firstScheduled().plus(timeout));
    long deadline = System.nanoTime() + Math.max(0, remaining.toNanos());
    try {
      for (var f : informers) {
        started.add(f.apply(wake));
      }
      while (true) {
        Optional<T> done = check.get();
        if (done.isPresent()) {
          return done.get();
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw ApplicationFailure.newNonRetryableFailure(
              "gave up waiting after " + timeout + ": " + status.get(), WAIT_TIMED_OUT);
        }
        if (!wake.signal.tryAcquire(
            Math.min(BEAT_MILLIS, TimeUnit.NANOSECONDS.toMillis(left) + 1),
            TimeUnit.MILLISECONDS)) {
          Heartbeats.beat(new Checkpoint(step, null, 0, 0, null, status.get(), List.of()));
        }
        wake.signal.drainPermits();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted while waiting", WAIT_TIMED_OUT);
    } finally {
      started.forEach(SharedIndexInformer::close);
    }
  }

  /**
   * The waits for workloads, all of one shape: until {@code pending} lists nothing. Returns {@code
   * done} and the time waited; heartbeats and the timeout's message say {@code waitingFor} and what
   * is still pending.
   */
  @SuppressWarnings("rawtypes")
  public static WaitResult untilNone(
      String step,
      List<Function<ResourceEventHandler, SharedIndexInformer<?>>> informers,
      Supplier<List<String>> pending,
      String waitingFor,
      String done,
      long timeoutSeconds) {
    long start = System.nanoTime();
    String seen =
        until(
            step,
            informers,
            () -> pending.get().isEmpty() ? Optional.of(done) : Optional.<String>empty(),
            () -> waitingFor + String.join(", ", pending.get()),
            Duration.ofSeconds(timeoutSeconds));
    return new WaitResult(seen, (System.nanoTime() - start) / 1_000_000);
  }
}
