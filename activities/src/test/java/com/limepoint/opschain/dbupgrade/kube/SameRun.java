package com.limepoint.opschain.dbupgrade.kube;

import io.temporal.activity.ActivityExecutionContext;
import io.temporal.activity.ActivityInfo;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptor;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptorBase;
import io.temporal.common.interceptors.WorkerInterceptorBase;
import io.temporal.testing.TestActivityEnvironment;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.worker.WorkerFactoryOptions;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * A {@link TestActivityEnvironment} whose activity calls are all attempts of one workflow run. The
 * SDK's test environment gives every call a new random run id (its {@code TestActivityExecutor}); a
 * retry of a real activity keeps its run id and counts up its attempt, and the activities' markers
 * and fences depend on both. An activity interceptor hands the activity a context whose info says
 * this run and this attempt.
 */
public final class SameRun {
  private SameRun() {}

  /** Every call in the environment runs as attempt {@code attempt} of run {@code runId}. */
  public static TestActivityEnvironment environment(String runId, int attempt) {
    return environment(runId, attempt, details -> {});
  }

  /**
   * As {@link #environment(String, int)}, with the activity scheduled at {@code scheduledMillis}
   * (the other environments keep the test environment's own scheduled time, which the waits count
   * from): a new round of attempts is a later scheduled activity.
   */
  public static TestActivityEnvironment environment(
      String runId, int attempt, long scheduledMillis) {
    return environment(runId, attempt, scheduledMillis, details -> {});
  }

  /**
   * As {@link #environment(String, int)}, and {@code onHeartbeat} sees every heartbeat the
   * activity's code makes, before the SDK throttles them: what a heartbeat-cadence test measures.
   */
  public static TestActivityEnvironment environment(
      String runId, int attempt, java.util.function.Consumer<Object> onHeartbeat) {
    return environment(runId, attempt, -1, onHeartbeat);
  }

  private static TestActivityEnvironment environment(
      String runId,
      int attempt,
      long scheduledMillis,
      java.util.function.Consumer<Object> onHeartbeat) {
    WorkerInterceptorBase interceptor =
        new WorkerInterceptorBase() {
          @Override
          public ActivityInboundCallsInterceptor interceptActivity(
              ActivityInboundCallsInterceptor next) {
            return new ActivityInboundCallsInterceptorBase(next) {
              @Override
              public void init(ActivityExecutionContext context) {
                super.init(withRun(context, runId, attempt, scheduledMillis, onHeartbeat));
              }
            };
          }
        };
    return TestActivityEnvironment.newInstance(
        TestEnvironmentOptions.newBuilder()
            .setWorkerFactoryOptions(
                WorkerFactoryOptions.newBuilder().setWorkerInterceptors(interceptor).build())
            .build());
  }

  private static ActivityExecutionContext withRun(
      ActivityExecutionContext context,
      String runId,
      int attempt,
      long scheduledMillis,
      java.util.function.Consumer<Object> onHeartbeat) {
    ActivityInfo info = context.getInfo();
    ActivityInfo fixed =
        proxy(
            ActivityInfo.class,
            (p, m, args) ->
                switch (m.getName()) {
                  case "getRunId", "getWorkflowRunId" -> runId;
                  case "getAttempt" -> attempt;
                  case "getScheduledTimestamp" ->
                      scheduledMillis < 0 ? info.getScheduledTimestamp() : scheduledMillis;
                  default -> call(m, info, args);
                });
    return proxy(
        ActivityExecutionContext.class,
        (p, m, args) -> {
          if (m.getName().equals("getInfo")) {
            return fixed;
          }
          if (m.getName().equals("heartbeat")) {
            onHeartbeat.accept(args[0]);
          }
          return call(m, context, args);
        });
  }

  private static Object call(java.lang.reflect.Method m, Object target, Object[] args)
      throws Throwable {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  @SuppressWarnings("unchecked")
  private static <T> T proxy(Class<T> type, InvocationHandler handler) {
    return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler);
  }
}
