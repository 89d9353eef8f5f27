package com.limepoint.opschain.dbupgrade.starter;

import io.temporal.api.history.v1.HistoryEvent;
import java.time.Instant;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** The workflow's history in one line per event that matters to an operator. */
@Command(name = "history", description = "A readable summary of the workflow's history events.")
class History extends ConnectedCommand {
  @Parameters(index = "0")
  String namespace;

  @Override
  ExitCode execute() {
    List<HistoryEvent> events;
    try (Connection temporal = connect()) {
      events = temporal.history(namespace);
    }
    for (HistoryEvent e : events) {
      String what = describe(e);
      if (what != null) {
        out()
            .printf(
                "%4d  %s  %s%n",
                e.getEventId(),
                Instant.ofEpochSecond(e.getEventTime().getSeconds(), e.getEventTime().getNanos()),
                what);
      }
    }
    out().println(events.size() + " events");
    return ExitCode.OK;
  }

  /** What the event says, or null for the ones left out (workflow tasks, markers, ...). */
  static String describe(HistoryEvent e) {
    return switch (e.getEventType()) {
      case EVENT_TYPE_ACTIVITY_TASK_SCHEDULED ->
          "scheduled " + e.getActivityTaskScheduledEventAttributes().getActivityType().getName();
      case EVENT_TYPE_ACTIVITY_TASK_COMPLETED -> "completed activity";
      case EVENT_TYPE_ACTIVITY_TASK_FAILED ->
          "FAILED " + e.getActivityTaskFailedEventAttributes().getFailure().getMessage();
      case EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED ->
          "signal " + e.getWorkflowExecutionSignaledEventAttributes().getSignalName();
      case EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED ->
          "update "
              + e.getWorkflowExecutionUpdateAcceptedEventAttributes()
                  .getAcceptedRequest()
                  .getInput()
                  .getName();
      case EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED ->
          "child " + e.getStartChildWorkflowExecutionInitiatedEventAttributes().getWorkflowId();
      case EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> "started";
      case EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED -> "completed";
      case EVENT_TYPE_WORKFLOW_EXECUTION_FAILED ->
          "FAILED " + e.getWorkflowExecutionFailedEventAttributes().getFailure().getMessage();
      default -> null;
    };
  }
}
