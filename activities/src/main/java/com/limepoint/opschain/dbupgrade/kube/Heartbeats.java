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
      String step,
      String file,
      long offset,
      long total,
      Double percent,
      String message,
      List<String> log) {
    public Checkpoint {
      log = log == null ? List.of() : List.copyOf(log);
    }
  }

  private static volatile io.temporal.client.WorkflowClient progressClient;
  private static final java.util.Map<String, String> lastMilestone =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Lets long activities report progress milestones to their workflow's {@code status} query
   * through the {@code progress} signal. The worker sets it; without it only heartbeats are sent.
   */
  public static void reportTo(io.temporal.client.WorkflowClient client) {
    progressClient = client;
  }

  /**
   * Records progress; the SDK sends it at most every ~80% of the heartbeat timeout. Milestones
   * (each further 10 %, or a new phase when there is no percentage) also go to the workflow, so the
   * history grows with the number of milestones, never with the duration.
   */
  public static void beat(Checkpoint checkpoint) {
    context()
        .ifPresent(c -> {
          send(c, checkpoint);
          remember(attemptKey(c), checkpoint);
          signalMilestone(c, checkpoint);
        });
  }

  /**
   * The longest a blocking call may go without a heartbeat. Long activities' heartbeat timeout is a
   * few times this, so a dead worker is noticed in under a minute.
   */
  public static final java.time.Duration CADENCE = java.time.Duration.ofSeconds(5);

  /**
   * How long a wait blocks before it calls {@link #alive} again: a fifth of the cadence, so the gap
   * between heartbeats stays within the cadence and a second.
   */
  public static final java.time.Duration SLICE = java.time.Duration.ofSeconds(1);

  /** The last checkpoint an attempt sent, and when. */
  private record Sent(Checkpoint checkpoint, long atNanos) {}

  /** By attempt (workflow, run, activity id, attempt); running attempts only are needed. */
  private static final java.util.Map<String, Sent> LAST =
      new java.util.concurrent.ConcurrentHashMap<>();

  private static void remember(String attempt, Checkpoint cp) {
    if (LAST.size() > 1000) {
      LAST.clear();
    }
    long now = System.nanoTime();
    Sent before = LAST.put(attempt, new Sent(cp, now));
    if (before != null) {
      LARGEST_GAP.accumulateAndGet(now - before.atNanos(), Math::max);
    }
  }

  private static final java.util.concurrent.atomic.AtomicLong LARGEST_GAP =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * The largest gap between two heartbeats of one attempt in this worker since the last call (what
   * the downtime benchmark prints; every blocking call keeps it within {@link #CADENCE} and a
   * second).
   */
  public static long takeLargestGapMillis() {
    return LARGEST_GAP.getAndSet(0) / 1_000_000;
  }

  /**
   * Heartbeats while a blocking call waits, unless this attempt beat within {@link #CADENCE}: the
   * last checkpoint again (so a resume offset is never lost), with {@code what} and how long it has
   * run as its message. Called by every wait loop; a canceled or timed-out attempt learns it here
   * (the SDK throws), so its caller stops what it started.
   */
  public static void alive(String what, long startedNanos) {
    context().ifPresent(c -> aliveIn(c, what, startedNanos));
  }

  private static void aliveIn(ActivityExecutionContext c, String what, long startedNanos) {
    String attempt = attemptKey(c);
    Sent last = LAST.get(attempt);
    if (last != null && System.nanoTime() - last.atNanos() < CADENCE.toNanos()) {
      return;
    }
    String message =
        what + " running for " + (System.nanoTime() - startedNanos) / 1_000_000_000L + " s";
    // Before this attempt's own first heartbeat, keep the previous attempt's details (a resume
    // offset among them) rather than overwrite them.
    Checkpoint base =
        last != null ? last.checkpoint() : c.getHeartbeatDetails(Checkpoint.class).orElse(null);
    Checkpoint cp =
        base == null
            ? new Checkpoint(stepOf(c), null, 0, 0, null, message, List.of())
            : new Checkpoint(
                base.step(),
                base.file(),
                base.offset(),
                base.total(),
                base.percent(),
                message,
                base.log());
    send(c, cp);
    remember(attempt, cp);
  }

  /** The attempts (by {@link #attemptKey}) that are cleaning up after a cancel or a timeout. */
  private static final java.util.Set<String> CLEANING_UP =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * Runs what a cancelled or timed-out attempt does to stop what it started (a process in a pod):
   * its heartbeats keep going to the server, from this thread and from keep-alives alike, so the
   * attempt stays alive while it cleans up, but the cancel they report again is not thrown (it is
   * what is being handled).
   */
  public static void whileCleaningUp(Runnable cleanup) {
    Optional<ActivityExecutionContext> c = context();
    if (c.isEmpty()) {
      cleanup.run();
      return;
    }
    String attempt = attemptKey(c.get());
    CLEANING_UP.add(attempt);
    try {
      cleanup.run();
    } finally {
      CLEANING_UP.remove(attempt);
    }
  }

  private static void send(ActivityExecutionContext c, Checkpoint cp) {
    try {
      c.heartbeat(cp);
    } catch (io.temporal.client.ActivityCompletionException e) {
      if (!CLEANING_UP.contains(attemptKey(c))) {
        throw e;
      }
    }
  }

  private static final java.util.concurrent.ScheduledExecutorService KEEPALIVE =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("heartbeat-keepalive").factory());

  /**
   * Heartbeats from another thread while the activity's thread blocks in a call that cannot be
   * sliced (a read from an exec stream that has gone quiet): the context may be used from any
   * thread. When the heartbeat says the attempt was canceled or timed out, {@code onCanceled} runs
   * (closing the stream, so the blocked read returns). Close the returned handle when the call
   * returns.
   */
  public static AutoCloseable keepAlive(String what, Runnable onCanceled) {
    Optional<ActivityExecutionContext> ctx = context();
    if (ctx.isEmpty()) {
      return () -> {};
    }
    ActivityExecutionContext c = ctx.get();
    long started = System.nanoTime();
    java.util.concurrent.ScheduledFuture<?> task =
        KEEPALIVE.scheduleWithFixedDelay(
            () -> {
              try {
                aliveIn(c, what, started);
              } catch (RuntimeException e) {
                onCanceled.run();
                throw e;
              }
            },
            1,
            1,
            java.util.concurrent.TimeUnit.SECONDS);
    return () -> task.cancel(false);
  }

  private static String attemptKey(ActivityExecutionContext c) {
    return c.getInfo().getWorkflowId()
        + "/"
        + c.getInfo().getWorkflowRunId()
        + "/"
        + c.getInfo().getActivityId()
        + "/"
        + c.getInfo().getAttempt();
  }

  /** The workflow's step name for an activity type: {@code TakeBackup} is {@code takeBackup}. */
  private static String stepOf(ActivityExecutionContext c) {
    String type = c.getInfo().getActivityType();
    return type.isEmpty() ? type : Character.toLowerCase(type.charAt(0)) + type.substring(1);
  }

  private static void signalMilestone(ActivityExecutionContext c, Checkpoint cp) {
    io.temporal.client.WorkflowClient client = progressClient;
    if (client == null || cp.step() == null) {
      return;
    }
    String milestone =
        cp.percent() != null
            ? cp.file() + ":" + (int) (cp.percent() / 10)
            : String.valueOf(cp.message()).replaceAll("[0-9]+ s$", "");
    String key = c.getInfo().getWorkflowId() + "/" + c.getInfo().getActivityId();
    if (lastMilestone.size() > 1000) {
      // One entry per running long activity is all that is needed; forget finished ones.
      lastMilestone.clear();
    }
    if (milestone.equals(lastMilestone.put(key, milestone))) {
      return;
    }
    try {
      client
          .newUntypedWorkflowStub(c.getInfo().getWorkflowId())
          .signal(
              "progress",
              new com.limepoint.opschain.dbupgrade.model.Progress(
                  cp.step(),
                  cp.percent(),
                  cp.offset(),
                  cp.total(),
                  cp.message(),
                  cp.log(),
                  java.time.Instant.now().toString()));
    } catch (RuntimeException e) {
      // Progress is best effort; the heartbeat already carries it.
    }
  }

  /** The details of the previous attempt's last heartbeat, if this is a retry. */
  public static Optional<Checkpoint> last() {
    return context().flatMap(c -> c.getHeartbeatDetails(Checkpoint.class));
  }

  public static String workflowId() {
    return context().map(c -> c.getInfo().getWorkflowId()).orElse("no-workflow");
  }

  /** The run id of the workflow this activity belongs to: part of every marker a run writes. */
  public static String runId() {
    return context().map(c -> c.getInfo().getWorkflowRunId()).orElse("no-run");
  }

  /** This attempt's number (1 for the first), written into the locks it holds. */
  public static int attempt() {
    return context().map(c -> c.getInfo().getAttempt()).orElse(1);
  }

  /**
   * This attempt's fencing token ({@link PodFence}): larger for every later attempt of the step,
   * also across the rounds that the workflow's LostWorkers schedules, whose attempts count from 1
   * again but whose activity is scheduled later. The activity's scheduled time in milliseconds
   * times {@link #TOKEN_ATTEMPTS}, plus the attempt; the attempt alone outside an activity or where
   * no scheduled time is known.
   */
  public static long fenceToken() {
    return context()
        .map(c -> fenceToken(c.getInfo().getScheduledTimestamp(), c.getInfo().getAttempt()))
        .orElse(1L);
  }

  /** Room for the attempts of one scheduled activity in a {@link #fenceToken}. */
  static final long TOKEN_ATTEMPTS = 1000;

  static long fenceToken(long scheduledMillis, int attempt) {
    return Math.max(0, scheduledMillis) * TOKEN_ATTEMPTS + attempt;
  }

  private static Optional<ActivityExecutionContext> context() {
    try {
      return Optional.of(Activity.getExecutionContext());
    } catch (IllegalStateException e) {
      return Optional.empty();
    }
  }
}
