package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.api.sdk.v1.UserMetadata;
import io.temporal.common.converter.DataConverter;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
    DataConverter converter;
    try (Connection temporal = connect()) {
      events = temporal.history(namespace);
      converter = temporal.dataConverter();
    }
    Lines lines = new Lines(converter);
    for (HistoryEvent e : events) {
      String what = lines.describe(e);
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

  /**
   * What each event says, with the names that make it readable: an activity's end names the
   * activity its scheduled event started, a gate's timer its summary, an approval or rejection its
   * gate and who decided (decoded with the connection's converter, so through the payload codec
   * when encryption is on). Events of no interest (workflow tasks, markers) give null.
   */
  static final class Lines {
    private final DataConverter converter;
    private final Map<Long, String> activities = new HashMap<>();
    private final Map<Long, String> timers = new HashMap<>();

    Lines(DataConverter converter) {
      this.converter = converter;
    }

    String describe(HistoryEvent e) {
      return switch (e.getEventType()) {
        case EVENT_TYPE_ACTIVITY_TASK_SCHEDULED -> {
          String name = e.getActivityTaskScheduledEventAttributes().getActivityType().getName();
          activities.put(e.getEventId(), name);
          yield "scheduled " + name + summary(e);
        }
        case EVENT_TYPE_ACTIVITY_TASK_COMPLETED ->
            "completed "
                + activity(e.getActivityTaskCompletedEventAttributes().getScheduledEventId());
        case EVENT_TYPE_ACTIVITY_TASK_FAILED ->
            "FAILED "
                + activity(e.getActivityTaskFailedEventAttributes().getScheduledEventId())
                + ": "
                + e.getActivityTaskFailedEventAttributes().getFailure().getMessage();
        case EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT ->
            "TIMED OUT "
                + activity(e.getActivityTaskTimedOutEventAttributes().getScheduledEventId())
                + ": "
                + e.getActivityTaskTimedOutEventAttributes().getFailure().getMessage();
        case EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED ->
            "cancel requested of "
                + activity(e.getActivityTaskCancelRequestedEventAttributes().getScheduledEventId());
        case EVENT_TYPE_ACTIVITY_TASK_CANCELED ->
            "cancelled "
                + activity(e.getActivityTaskCanceledEventAttributes().getScheduledEventId());
        case EVENT_TYPE_TIMER_STARTED -> {
          String what = e.hasUserMetadata() ? text(e.getUserMetadata()) : "";
          timers.put(e.getEventId(), what);
          yield what.isEmpty() ? null : "timer " + what;
        }
        case EVENT_TYPE_TIMER_CANCELED -> {
          String what = timers.get(e.getTimerCanceledEventAttributes().getStartedEventId());
          yield what == null || what.isEmpty() ? null : "timer cancelled: " + what;
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED -> {
          var a = e.getWorkflowExecutionSignaledEventAttributes();
          yield a.getSignalName().equals("progress")
              ? null
              : "signal " + a.getSignalName() + decision(a.getInput());
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED -> {
          var input =
              e.getWorkflowExecutionUpdateAcceptedEventAttributes().getAcceptedRequest().getInput();
          yield "update " + input.getName() + decision(input.getArgs());
        }
        case EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED ->
            "child " + e.getStartChildWorkflowExecutionInitiatedEventAttributes().getWorkflowId();
        case EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> "started";
        case EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED -> "completed";
        case EVENT_TYPE_WORKFLOW_EXECUTION_FAILED ->
            "FAILED " + e.getWorkflowExecutionFailedEventAttributes().getFailure().getMessage();
        case EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED -> {
          var a = e.getWorkflowExecutionCancelRequestedEventAttributes();
          yield "cancel requested"
              + (a.getIdentity().isEmpty() ? "" : " by " + a.getIdentity())
              + (a.getCause().isEmpty() ? "" : ": " + a.getCause());
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED ->
            "CANCELED (what it left: `status` shows the final phase and message)";
        case EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED -> {
          var a = e.getWorkflowExecutionTerminatedEventAttributes();
          yield "TERMINATED"
              + (a.getIdentity().isEmpty() ? "" : " by " + a.getIdentity())
              + (a.getReason().isEmpty() ? "" : ": " + a.getReason());
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT -> "TIMED OUT";
        default -> null;
      };
    }

    private String activity(long scheduledEventId) {
      return activities.getOrDefault(scheduledEventId, "activity #" + scheduledEventId);
    }

    private String summary(HistoryEvent e) {
      String s = e.hasUserMetadata() ? text(e.getUserMetadata()) : "";
      return s.isEmpty() ? "" : " (" + s + ")";
    }

    private String text(UserMetadata m) {
      if (!m.hasSummary()) {
        return "";
      }
      try {
        return converter.fromPayload(m.getSummary(), String.class, String.class);
      } catch (RuntimeException ex) {
        return "";
      }
    }

    /** " START by alice (comment)" from a decision's input; "" when it is none or unreadable. */
    private String decision(Payloads input) {
      if (input.getPayloadsCount() == 0) {
        return "";
      }
      try {
        var p = input.getPayloads(0);
        Map<?, ?> m = converter.fromPayload(p, Map.class, Map.class);
        if (m.containsKey("gate")) {
          GateDecision d = converter.fromPayload(p, GateDecision.class, GateDecision.class);
          return " " + d.gate() + " by " + d.by() + comment(d.comment());
        }
        if (m.containsKey("reason")) {
          AbortRequest a = converter.fromPayload(p, AbortRequest.class, AbortRequest.class);
          return " by " + a.by() + comment(a.reason());
        }
        return "";
      } catch (RuntimeException ex) {
        return " (input not readable here: is the payload encrypted without --encryption-key-file?)";
      }
    }

    private static String comment(String c) {
      return c == null || c.isBlank() ? "" : " (" + c + ")";
    }
  }
}
