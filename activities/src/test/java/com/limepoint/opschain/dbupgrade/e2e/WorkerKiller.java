package com.limepoint.opschain.dbupgrade.e2e;

import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import com.limepoint.opschain.dbupgrade.workflows.QueueOptions;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.activity.ActivityInfo;
import io.temporal.activity.ActivityOptions;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptor;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptorBase;
import io.temporal.common.interceptors.WorkerInterceptorBase;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerFactoryOptions;
import io.temporal.worker.WorkflowImplementationOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the e2e fixture's workers as generations of worker processes and stops the first one hard at
 * one activity (KillAnywhereIT): its factory shut down now and its threads interrupted, and from
 * then on nothing of it reaches the server (every activity thread of the dead generation is held,
 * so no result or failure is reported, as from a process that is gone). A new generation with a new
 * identity takes over. Both use the workers' {@link QueueOptions} for the Java test server: no
 * sticky queues (issue 18's fix, not a way around it).
 */
final class WorkerKiller {
  /** Where in the activity the worker dies. */
  enum When {
    /**
     * At the activity's first heartbeat; one that never heartbeats: after its work, before its
     * result is reported (the retry meets every effect already done).
     */
    MID,
    /** After the server recorded the result, before the workflow task that follows. */
    AFTER
  }

  /** The activity to kill at: its workflow's type, its type, and which run of that type. */
  record Target(String workflowType, String activityType, int occurrence) {}

  /**
   * How long an activity the dead worker held waits for its retry: its heartbeat timeout, 45 s in
   * the workflow, shortened for the test for every activity type (the dying worker may have taken
   * the next activity already). Every activity heartbeats at least every 5 s, or ends sooner.
   */
  static final Duration RETRY_AFTER = Duration.ofSeconds(8);

  private final Target target;
  private final When when;
  private final UpgradeEndToEndIT t;
  private final Map<String, List<String>> seen = new ConcurrentHashMap<>();
  private final CountDownLatch release = new CountDownLatch(1);
  private final List<WorkerFactory> generations = new ArrayList<>();
  private volatile boolean fired;
  private volatile boolean dead;
  private volatile String how = "never reached";
  private volatile Worker dyingShared;

  private final java.util.Set<String> activityTypes;

  WorkerKiller(UpgradeEndToEndIT t, Target target, When when, java.util.Set<String> activityTypes) {
    this.t = t;
    this.activityTypes = activityTypes;
    this.target = target;
    this.when = when;
  }

  /** The fixture's {@code workers} hook: the first generation, armed. */
  void startFirst(UpgradeEndToEndIT fixture) {
    start("kill-w1", true);
  }

  boolean fired() {
    return fired;
  }

  String how() {
    return how;
  }

  private synchronized void start(String identity, boolean armed) {
    WorkflowClient c =
        WorkflowClient.newInstance(
            t.env.getWorkflowServiceStubs(),
            WorkflowClientOptions.newBuilder()
                .setNamespace(t.env.getNamespace())
                .setIdentity(identity)
                .build());
    WorkerFactoryOptions.Builder fo = WorkerFactoryOptions.newBuilder();
    if (armed) {
      fo.setWorkerInterceptors(new Trap());
    }
    WorkerFactory f = WorkerFactory.newInstance(c, fo.build());
    // The Java test server ignores the sticky schedule-to-start timeout: the same options as the
    // dev mode's workers on it.
    Worker shared = f.newWorker(DbUpgradeWorkflow.TASK_QUEUE, QueueOptions.of(16, false));
    Worker host = f.newWorker(UpgradeEndToEndIT.HOST_QUEUE, QueueOptions.of(16, false));
    t.register(shared, host, shorterRetry());
    if (armed) {
      dyingShared = shared;
    }
    f.start();
    generations.add(f);
  }

  /** Heartbeat timeouts shortened, so a held activity's retry comes after seconds. */
  private WorkflowImplementationOptions shorterRetry() {
    ActivityOptions shorter = ActivityOptions.newBuilder().setHeartbeatTimeout(RETRY_AFTER).build();
    Map<String, ActivityOptions> each = new java.util.HashMap<>();
    activityTypes.forEach(type -> each.put(type, shorter));
    return WorkflowImplementationOptions.newBuilder().setActivityOptions(each).build();
  }

  /** The worker dies: on a thread of its own, as the calling activity thread must stay held. */
  private void kill(String moment) {
    synchronized (this) {
      if (fired) {
        return;
      }
      fired = true;
      dead = true;
      how = moment;
    }
    Thread.ofPlatform()
        .daemon()
        .name("worker-killer")
        .start(() -> {
          generations.get(0).shutdownNow();
          start("kill-w2", false);
        });
  }

  /** Every thread of the dead generation stays here until the test ends: it reports nothing. */
  private void holdForever() {
    while (true) {
      try {
        release.await();
        throw new IllegalStateException("this worker was killed");
      } catch (InterruptedException e) {
        // A process that is gone hears no interrupt either.
      }
    }
  }

  /** Stops the live generation and lets the held threads end (after the environment closed). */
  void close() {
    for (WorkerFactory f : generations) {
      f.shutdownNow();
    }
  }

  void releaseHeld() {
    release.countDown();
  }

  private boolean isTarget(ActivityInfo info) {
    if (!info.getWorkflowType().equals(target.workflowType())
        || !info.getActivityType().equals(target.activityType())) {
      return false;
    }
    List<String> ids =
        seen.computeIfAbsent(
            info.getWorkflowType() + "/" + info.getActivityType(), k -> new ArrayList<>());
    synchronized (ids) {
      if (!ids.contains(info.getActivityId())) {
        ids.add(info.getActivityId());
      }
      return ids.indexOf(info.getActivityId()) + 1 == target.occurrence();
    }
  }

  /** After the result is recorded, the worker dies before it can take the next workflow task. */
  private void killOnceRecorded(ActivityInfo info) {
    // No new workflow task polls from here on (one already waiting on the server may still come).
    dyingShared.suspendPolling();
    Thread.ofPlatform()
        .daemon()
        .name("await-recorded")
        .start(() -> {
          long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
          while (System.nanoTime() < deadline && !recorded(info)) {
            try {
              Thread.sleep(5);
            } catch (InterruptedException e) {
              return;
            }
          }
          kill("after its result was recorded");
        });
  }

  private boolean recorded(ActivityInfo info) {
    long scheduled = -1;
    for (HistoryEvent e :
        t.env.getWorkflowClient().fetchHistory(info.getWorkflowId()).getEvents()) {
      if (e.hasActivityTaskScheduledEventAttributes()
          && e.getActivityTaskScheduledEventAttributes()
              .getActivityId()
              .equals(info.getActivityId())) {
        scheduled = e.getEventId();
      }
      if (e.hasActivityTaskCompletedEventAttributes()
          && e.getActivityTaskCompletedEventAttributes().getScheduledEventId() == scheduled) {
        return true;
      }
    }
    return false;
  }

  /** The armed generation's interceptor. */
  private final class Trap extends WorkerInterceptorBase {
    @Override
    public ActivityInboundCallsInterceptor interceptActivity(ActivityInboundCallsInterceptor next) {
      return new ActivityInboundCallsInterceptorBase(next) {
        private boolean mine;
        private ActivityInfo info;

        @Override
        public void init(ActivityExecutionContext context) {
          info = context.getInfo();
          mine = !fired && isTarget(info);
          super.init(mine && when == When.MID ? new HeartbeatTrap(context) : context);
        }

        @Override
        public ActivityOutput execute(ActivityInput input) {
          try {
            ActivityOutput out = super.execute(input);
            if (mine && !fired) {
              if (when == When.MID) {
                kill("after its work, before its result was reported (it does not heartbeat)");
              } else {
                killOnceRecorded(info);
              }
            }
            return out;
          } finally {
            if (dead) {
              holdForever();
            }
          }
        }
      };
    }
  }

  /** The target's context: its first heartbeat is where the worker dies. */
  private final class HeartbeatTrap implements ActivityExecutionContext {
    private final ActivityExecutionContext d;

    HeartbeatTrap(ActivityExecutionContext d) {
      this.d = d;
    }

    @Override
    public <V> void heartbeat(V details) {
      if (!fired) {
        kill("at its first heartbeat");
      }
      if (dead) {
        holdForever();
      }
      d.heartbeat(details);
    }

    @Override
    public ActivityInfo getInfo() {
      return d.getInfo();
    }

    @Override
    public <V> java.util.Optional<V> getHeartbeatDetails(Class<V> c) {
      return d.getHeartbeatDetails(c);
    }

    @Override
    public <V> java.util.Optional<V> getHeartbeatDetails(Class<V> c, java.lang.reflect.Type t) {
      return d.getHeartbeatDetails(c, t);
    }

    @Override
    public <V> java.util.Optional<V> getLastHeartbeatDetails(Class<V> c) {
      return d.getLastHeartbeatDetails(c);
    }

    @Override
    public <V> java.util.Optional<V> getLastHeartbeatDetails(Class<V> c, java.lang.reflect.Type t) {
      return d.getLastHeartbeatDetails(c, t);
    }

    @Override
    public byte[] getTaskToken() {
      return d.getTaskToken();
    }

    @Override
    public io.temporal.common.CancellationToken<io.temporal.client.ActivityCanceledException>
        getCancellationToken() {
      return d.getCancellationToken();
    }

    @Override
    public void doNotCompleteOnReturn() {
      d.doNotCompleteOnReturn();
    }

    @Override
    public boolean isDoNotCompleteOnReturn() {
      return d.isDoNotCompleteOnReturn();
    }

    @Override
    public boolean isUseLocalManualCompletion() {
      return d.isUseLocalManualCompletion();
    }

    @Override
    public io.temporal.activity.ManualActivityCompletionClient useLocalManualCompletion() {
      return d.useLocalManualCompletion();
    }

    @Override
    public com.uber.m3.tally.Scope getMetricsScope() {
      return d.getMetricsScope();
    }

    @Override
    public WorkflowClient getWorkflowClient() {
      return d.getWorkflowClient();
    }

    @Override
    public Object getInstance() {
      return d.getInstance();
    }
  }
}
