package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import io.temporal.workflow.Workflow;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The step log behind the {@code status} query and the report: each runbook step with its state,
 * start, end and one-line result. Times come from {@link Workflow#currentTimeMillis()}.
 */
final class Steps {
  private final List<StepStatus> steps = new ArrayList<>();
  private String running;

  /** Lists steps ahead of time, so that the status shows what is still to come. */
  void plan(String name, String description) {
    if (find(name) < 0) {
      steps.add(new StepStatus(name, description, StepState.PENDING, null, null, null));
    }
  }

  /** Runs one step, recording its start, end and summary; a failure marks it FAILED. */
  <T> T run(String name, String description, Supplier<T> body, Function<T, String> summary) {
    start(name, description);
    try {
      T result = body.get();
      end(name, StepState.DONE, summary.apply(result));
      return result;
    } catch (RuntimeException e) {
      end(name, state(e), Failures.describe(e));
      throw e;
    }
  }

  void start(String name, String description) {
    running = name;
    put(new StepStatus(name, description, StepState.RUNNING, now(), null, null));
  }

  void end(String name, StepState state, String summary) {
    int i = find(name);
    StepStatus s = i < 0 ? new StepStatus(name, name, state, now(), null, null) : steps.get(i);
    put(new StepStatus(name, s.description(), state, s.startedAt(), now(), summary));
    if (name.equals(running)) {
      running = null;
    }
  }

  void skip(String name, String reason) {
    int i = find(name);
    if (i >= 0 && steps.get(i).state() == StepState.PENDING) {
      StepStatus s = steps.get(i);
      steps.set(i, new StepStatus(name, s.description(), StepState.SKIPPED, null, null, reason));
    }
  }

  /** Marks every step still pending as skipped: the workflow ends before reaching them. */
  void skipRemaining(String reason) {
    for (StepStatus s : List.copyOf(steps)) {
      skip(s.name(), reason);
    }
  }

  String running() {
    return running;
  }

  List<StepStatus> snapshot() {
    return List.copyOf(steps);
  }

  static String now() {
    return Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString();
  }

  private static StepState state(RuntimeException e) {
    return Failures.isCancellation(e) ? StepState.CANCELED : StepState.FAILED;
  }

  private void put(StepStatus status) {
    int i = find(status.name());
    if (i < 0) {
      steps.add(status);
    } else {
      steps.set(i, status);
    }
  }

  private int find(String name) {
    for (int i = 0; i < steps.size(); i++) {
      if (steps.get(i).name().equals(name)) {
        return i;
      }
    }
    return -1;
  }
}
