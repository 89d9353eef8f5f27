package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.ApprovalEntry;
import com.limepoint.opschain.dbupgrade.model.ApprovalPolicy;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Promise;
import io.temporal.workflow.TimerOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The approval gates: one gate is open at a time; a person on the allow-list approves or rejects it
 * (signal or validated update), or it times out, or an abort closes it. Every decision received is
 * logged, the ignored ones with the reason.
 */
final class Gates {

  enum Result {
    APPROVED,
    REJECTED,
    TIMED_OUT,
    ABORTED
  }

  static final String APPROVED = "APPROVED";
  static final String REJECTED = "REJECTED";
  static final String IGNORED = "IGNORED";
  static final String ABORT = "ABORT";

  /** The length of the named timer of a gate that waits for a person without a deadline. */
  static final Duration NO_DEADLINE = Duration.ofDays(3650);

  private final List<ApprovalEntry> log = new ArrayList<>();
  private List<String> approvers = List.of();
  private Duration timeout = Duration.ofHours(72);
  private boolean skipGates;
  private boolean waitWithoutTimeout;
  private String blocked;
  private String blockedNow;
  private List<String> twoApprovers = List.of();
  private ApprovalEntry firstApproval;
  private final java.util.Map<Gate, Integer> openings = new java.util.EnumMap<>(Gate.class);
  private OpenGate open;
  private String decision;
  private ApprovalEntry decidedBy;
  private AbortRequest abort;

  private Runnable onOpenOrClose = () -> {};

  /** Runs when a gate opens or closes (the workflow's Current Details show the open one). */
  void onOpenOrClose(Runnable r) {
    onOpenOrClose = r;
  }

  /** Gates that need a second approval by a different person (the worker's policy). */
  void requireSecondApprover(List<String> gates) {
    twoApprovers = List.copyOf(gates);
  }

  /** Who may approve from now on (the worker's defaults, when the request named nobody). */
  void useApprovers(List<String> approvers) {
    this.approvers = List.copyOf(approvers);
  }

  /**
   * From now on gates wait for a person without timing out: past the point of no return a timeout
   * could only end the run in a half-done state that no later run continues.
   */
  void waitWithoutTimeout() {
    waitWithoutTimeout = true;
  }

  /**
   * The next opening may not be approved, for this reason (a precondition of what approving does
   * failed); rejecting it or aborting still works. Null: it may be approved.
   */
  void blockNextOpening(String reason) {
    blocked = reason;
  }

  void configure(List<String> approvers, Duration timeout, boolean skipGates) {
    this.approvers = List.copyOf(approvers);
    this.timeout = timeout;
    this.skipGates = skipGates;
  }

  /**
   * Opens the gate and waits for a decision, the timeout or an abort. With skipGates (demo only)
   * the gate approves itself and says so in the log.
   */
  Result await(Gate gate, GateEvidence evidence) {
    if (abort != null) {
      return Result.ABORTED;
    }
    String now = Steps.now();
    String deadline = waitWithoutTimeout ? null : Instant.parse(now).plus(timeout).toString();
    int n = openings.merge(gate, 1, Integer::sum);
    String opening = Workflow.getInfo().getRunId().substring(0, 8) + ":" + gate + "#" + n;
    open =
        new OpenGate(
            gate, gate.question(), now, deadline, approvers, withPolicy(gate, evidence), opening);
    onOpenOrClose.run();
    decision = null;
    decidedBy = null;
    firstApproval = null;
    blockedNow = blocked;
    blocked = null;
    try {
      if (skipGates && blockedNow != null) {
        decidedBy = entry(gate.name(), "skipGates", blockedNow, REJECTED, "skipGates", null);
        log.add(decidedBy);
        return Result.REJECTED;
      }
      if (skipGates) {
        // No timers at all: a skipped gate adds nothing to the history.
        log.add(entry(gate.name(), "skipGates", "", APPROVED, "skipGates", "demo: gate skipped"));
        return Result.APPROVED;
      }
      return awaitDecision(gate);
    } finally {
      open = null;
      blockedNow = null;
      onOpenOrClose.run();
    }
  }

  /**
   * The evidence with what the approval policy allows, when it is wider than a production worker's:
   * anyone may approve (no approvers configured, OPSCHAIN_ANYONE_MAY_APPROVE=true, as the dev mode
   * sets it), or one approval decides a gate that takes two by default.
   */
  private GateEvidence withPolicy(Gate gate, GateEvidence e) {
    List<String> notes = new ArrayList<>();
    if (approvers.isEmpty()) {
      notes.add(
          "anyone who can reach Temporal may decide this gate, whatever --by says: the worker has"
              + " no approvers configured and OPSCHAIN_ANYONE_MAY_APPROVE=true (the dev mode sets"
              + " it so that one person can run the demo alone; a production worker names its"
              + " approvers in OPSCHAIN_APPROVERS)");
    }
    if (ApprovalPolicy.DEFAULT_SECOND_APPROVER_GATES.contains(gate.name())
        && !twoApprovers.contains(gate.name())) {
      notes.add(
          "one approval decides this gate: the worker's OPSCHAIN_SECOND_APPROVER_GATES does not"
              + " name it (the dev mode sets none; by default it needs two different people)");
    }
    if (notes.isEmpty() || e == null) {
      return e;
    }
    List<String> details = new ArrayList<>(e.details());
    details.addAll(notes);
    return new GateEvidence(e.summary(), details, e.backup(), e.valuesDiff());
  }

  /**
   * Waits for a decision, an abort or the timeout. The wait is a timer named after the gate, so
   * that the Web UI's timeline shows the open gate by name ("gate START: Stop OpsChain ...? (times
   * out in 72h)"); it is cancelled when the gate is decided, and a second, instant timer names the
   * decision and who took it ("gate START approved by alice"). A gate without a deadline gets a
   * timer of {@link #NO_DEADLINE}, only to be seen: it never decides anything.
   */
  private Result awaitDecision(Gate gate) {
    Duration wait = waitWithoutTimeout ? NO_DEADLINE : timeout;
    String summary =
        "gate "
            + gate
            + ": "
            + gate.question()
            + (waitWithoutTimeout
                ? " (waits for a person, no deadline)"
                : " (times out in " + human(timeout) + ")");
    List<Promise<Void>> timer = new ArrayList<>(1);
    CancellationScope waiting =
        Workflow.newCancellationScope(() ->
            timer.add(
                Workflow.newTimer(wait, TimerOptions.newBuilder().setSummary(summary).build())));
    waiting.run();
    try {
      Workflow.await(() -> decision != null || abort != null || timer.get(0).isCompleted());
    } finally {
      waiting.cancel("gate " + gate + " closed");
    }
    Result result;
    if (abort != null) {
      result = Result.ABORTED;
    } else if (decision == null) {
      log.add(entry(gate.name(), "", "", REJECTED, "timeout", "no decision within " + timeout));
      result = Result.TIMED_OUT;
    } else {
      result = APPROVED.equals(decision) ? Result.APPROVED : Result.REJECTED;
    }
    closed(gate, result);
    return result;
  }

  /**
   * The gate's decision as an instant, already fired timer in the Web UI's timeline: "gate START
   * approved by alice (downtime announced)". Not awaited: it adds no wait to the run.
   */
  private void closed(Gate gate, Result result) {
    String summary =
        "gate "
            + gate
            + " closed: "
            + (result == Result.APPROVED
                ? "approved by "
                    + (firstApproval == null ? "" : firstApproval.by() + " and ")
                    + decidedBy.by()
                    + comment(decidedBy)
                : why(gate, result));
    // Detached: a cancel of the run must not try to cancel a mark that may have fired already.
    Workflow.newDetachedCancellationScope(() ->
            Workflow.newTimer(
                Duration.ofMillis(1), TimerOptions.newBuilder().setSummary(summary).build()))
        .run();
  }

  private static String human(Duration d) {
    if (d.toMinutes() % 60 == 0 && d.toHours() > 0) {
      return d.toHours() + "h";
    }
    return d.toSeconds() % 60 == 0 ? d.toMinutes() + "m" : d.toSeconds() + "s";
  }

  /**
   * Why a decision cannot be taken now, or null when it can. Used by the update's validator (which
   * rejects) and by the signals (which log and ignore).
   */
  String refusal(GateDecision d) {
    return refusal(d, true);
  }

  /** Why this decision (approving or rejecting) cannot be taken now, or null when it can. */
  String refusal(GateDecision d, boolean approving) {
    if (d == null) {
      return "a decision needs {\"gate\":...,\"by\":...}";
    }
    Gate gate = Gate.find(d.gate());
    if (gate == null) {
      return "unknown gate '"
          + d.gate()
          + "' (gates: "
          + Arrays.stream(Gate.values()).map(Enum::name).collect(Collectors.joining(", "))
          + ")";
    }
    if (open == null || open.gate() != gate) {
      return "gate "
          + gate
          + " is not open (open gate: "
          + (open == null ? "none" : open.gate().name())
          + ")";
    }
    if (d.opening() != null && !d.opening().equals(open.opening())) {
      return "the decision is for opening "
          + d.opening()
          + " but the open one is "
          + open.opening()
          + " (an old decision sent again?)";
    }
    if (decision != null) {
      return "gate " + gate + " is already decided";
    }
    if (approving
        && firstApproval != null
        && twoApprovers.contains(gate.name())
        && firstApproval.by().equals(d.by())) {
      return "gate "
          + gate
          + " needs a second approval by someone other than "
          + d.by()
          + ", who approved it first";
    }
    if (blockedNow != null && approving) {
      return "gate " + gate + " cannot be approved: " + blockedNow + "; reject it to stop here";
    }
    return unauthorized(d.by());
  }

  /** Why this person may not steer the workflow, or null when they may. */
  String unauthorized(String by) {
    if (by == null || by.isBlank()) {
      return "'by' is required: who decides";
    }
    if (!approvers.isEmpty() && !approvers.contains(by)) {
      return "'" + by + "' is not an approver (approvers: " + String.join(", ", approvers) + ")";
    }
    return null;
  }

  /** Takes an approve or reject; returns the refusal when it was ignored. */
  String decide(GateDecision d, boolean approve, String via) {
    String refusal = refusal(d, approve);
    String gate = d == null ? "" : String.valueOf(d.gate());
    String by = d == null ? "" : d.by();
    String comment = d == null ? "" : d.comment();
    if (refusal != null) {
      log.add(
          entry(gate, by, comment, IGNORED, via, (approve ? "approve: " : "reject: ") + refusal));
      return refusal;
    }
    if (approve && firstApproval == null && twoApprovers.contains(open.gate().name())) {
      firstApproval = entry(open.gate().name(), by, comment, APPROVED, via, "1 of 2 approvals");
      log.add(firstApproval);
      return null;
    }
    decision = approve ? APPROVED : REJECTED;
    decidedBy = entry(open.gate().name(), by, comment, decision, via, null);
    log.add(decidedBy);
    return null;
  }

  /** Takes an abort; returns the refusal when it was ignored. Only the first abort counts. */
  String abort(AbortRequest a) {
    String by = a == null ? null : a.by();
    String refusal = unauthorized(by);
    String reason = a == null ? "" : a.reason();
    String gate = open == null ? "" : open.gate().name();
    if (refusal != null) {
      log.add(entry(gate, by, reason, IGNORED, "signal", "abort: " + refusal));
      return refusal;
    }
    if (abort == null) {
      abort = a;
    }
    log.add(entry(gate, by, reason, ABORT, "signal", null));
    return null;
  }

  /** Words for a gate that did not pass: who rejected, the timeout, or who aborted and why. */
  String why(Gate gate, Result result) {
    return switch (result) {
      case APPROVED -> gate + " approved";
      case REJECTED -> gate + " rejected by " + decidedBy.by() + comment(decidedBy);
      case TIMED_OUT -> gate + " timed out after " + timeout;
      case ABORTED -> "aborted by " + abort.by() + ": " + abort.reason();
    };
  }

  private static String comment(ApprovalEntry e) {
    return e.comment() == null || e.comment().isBlank() ? "" : " (" + e.comment() + ")";
  }

  /**
   * True once the opening {@code id} is closed (or another one is open): what an update waits for
   * before it answers, so that its status is the one after the decision took effect.
   */
  boolean closedOrStillOpenFor(String id) {
    return open == null || !open.opening().equals(id) || decision == null;
  }

  OpenGate open() {
    return open;
  }

  AbortRequest abortRequest() {
    return abort;
  }

  List<ApprovalEntry> log() {
    return List.copyOf(log);
  }

  private static ApprovalEntry entry(
      String gate, String by, String comment, String decision, String via, String note) {
    return new ApprovalEntry(gate, by, Steps.now(), comment, decision, via, note);
  }
}
