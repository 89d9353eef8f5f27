package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.PlannedChange;
import com.limepoint.opschain.dbupgrade.model.Progress;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.common.SearchAttributeKey;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Workflow;
import java.util.List;
import org.slf4j.Logger;

/**
 * {@link DbUpgradeWorkflow}: {@link #run} reads like the runbook, one call per step; each step's id
 * and text are in {@link RunbookStep}. Before the BACKUP_VERIFIED gate is approved nothing
 * destructive has happened, and any abort, rejection, timeout or failure puts OpsChain back in
 * service on the current version. After it, the workflow never undoes anything blindly: it stops at
 * the next gate and says what state is left.
 */
public class DbUpgradeWorkflowImpl implements DbUpgradeWorkflow {

  /** Keyword search attributes; register them on the server (README) to filter in the UI. */
  public static final SearchAttributeKey<String> OPSCHAIN_NAMESPACE =
      SearchAttributeKey.forKeyword("OpsChainNamespace");

  public static final SearchAttributeKey<String> UPGRADE_PHASE =
      SearchAttributeKey.forKeyword("UpgradePhase");

  private static final Logger log = Workflow.getLogger(DbUpgradeWorkflowImpl.class);

  private final Steps steps = new Steps();
  private final Gates gates = new Gates();
  private final UpgradeSteps runbook = new UpgradeSteps(steps, this::phase);
  private final DataProof proof = new DataProof(runbook);
  private String rehearsalFailed;
  private UpgradeRequest req;
  private String workflowId;
  private boolean searchAttributes;
  private Phase phase = Phase.VALIDATING;
  private String message = "checking the request";
  private Progress progress;
  private List<PlannedChange> plannedChanges = List.of();
  private boolean pointOfNoReturnPassed;
  private boolean manualRestore;
  private String cluster;
  private String clusterSource;
  private Leftovers leftovers = new Leftovers(List.of(), null, null);
  private CancellationScope reversibleScope;
  private CancellationScope root;
  private boolean startApproved;
  private boolean compensationStarted;
  private boolean continuing;

  /**
   * Runs the upgrade. A cancel request (the Web UI's "Request Cancellation", {@code temporal
   * workflow cancel}, or a parent) is taken as an abort: see {@link #cancelled}. Temporal ends a
   * run whose cancel was requested as CANCELED whatever the method returns (sdk-java 1.38
   * ReplayWorkflowExecutor lines 126-127), so what the cancel led to is in the {@code status}
   * query, the Current Details and the UpgradePhase search attribute, not in a result.
   */
  @Override
  public UpgradeReport run(UpgradeRequest request) {
    root = CancellationScope.current();
    try {
      return upgrade(request);
    } catch (Ended ended) {
      return ended.report;
    } catch (RuntimeException e) {
      if (!cancelRequested() || req == null || compensationStarted) {
        // A compensation that ran (and failed, or ended the run) is not run again for a cancel.
        throw e;
      }
      UpgradeReport[] report = new UpgradeReport[1];
      Workflow.newDetachedCancellationScope(() -> report[0] = cancelled(e)).run();
      return report[0];
    }
  }

  /**
   * What a cancel does, in a scope the cancel does not reach: before START is approved nothing was
   * changed; before the point of no return the same checked compensation as an abort runs (the
   * running activity was cancelled first and cleaned up what it owns); after it nothing is undone,
   * and the run ends with the state left, where the backup is and how to go on.
   */
  private UpgradeReport cancelled(RuntimeException cause) {
    String why = "cancelled" + (cancelReason().isBlank() ? "" : " (" + cancelReason() + ")");
    log.warn("{} while {}: {}", why, phase, Failures.describe(cause));
    if (!startApproved) {
      return finish(Outcome.CANCELED, Phase.CANCELED, why + " before START" + nothingChanged());
    }
    if (!pointOfNoReturnPassed) {
      return putBackInService(why, Outcome.CANCELED, Phase.CANCELED);
    }
    return finish(
        Outcome.CANCELED,
        Phase.CANCELED,
        Reasons.stoppedAfterPointOfNoReturn(
            why, runbook.stateIfStoppedNow(), runbook.backupLocation()));
  }

  /** "nothing was changed", and what an earlier run left as it is. */
  private String nothingChanged() {
    if (continuing) {
      return "; nothing was changed: release "
          + req.release()
          + " stays at "
          + req.targetVersion()
          + " as run "
          + leftovers.earlierRun()
          + " left it, past the point of no return; start again to continue it";
    }
    return "; nothing was changed" + (leftovers.stopped() ? ". " + leftovers.rejecting(req) : "");
  }

  private boolean cancelRequested() {
    return root != null && root.isCancelRequested();
  }

  private String cancelReason() {
    String r = root.getCancellationReason();
    return r == null ? "" : r;
  }

  private UpgradeReport upgrade(UpgradeRequest request) {
    begin(request);
    claimHost();
    HelmActivities.ReleaseInfo release = runbook.preflight();
    leftovers =
        Leftovers.find(req, release, preflight(), workflowId, Workflow.getInfo().getRunId());
    if (leftovers.pastPointOfNoReturn(req, release) && preflight().legacyDbPresent()) {
      return continueEarlierRun(release);
    }
    endIfNotNeeded(release);
    Reasons.requireDeployedVersion(req, release, runbook.preflightResult());
    runbook.checkFreeSpace();
    runbook.checkValues();
    if (req.dryRunRequested()) {
      return plan();
    }
    passOrChangeNothing(
        Gate.START,
        GateEvidences.start(facts(), preflight(), release, cluster, clusterSource, leftovers));
    startApproved = true;
    runReversibly(() -> {
      runbook.stopOpsChain();
      runbook.scaleDbUp();
      proof.sourceCensus();
      runbook.takeBackup();
      runbook.copyBackupOut();
      rehearsalFailed = proof.rehearse();
      runbook.prepareMigrationValues();
    });
    gates.blockNextOpening(rehearsalFailed);
    passOrPutBackInService(
        Gate.BACKUP_VERIFIED, GateEvidences.backupVerified(facts(), backup(), proof.backupLines()));
    pointOfNoReturnPassed = true;
    gates.waitWithoutTimeout();
    new AfterPointOfNoReturn(
            runbook, proof, steps, this::phase, this::passOrStopHere, () -> manualRestore = true)
        .run(false);
    return finish(
        Outcome.COMPLETED,
        Phase.COMPLETED,
        "OpsChain runs " + req.targetVersion() + " on CNPG; the legacy database is removed");
  }

  /**
   * A new start over an earlier run of this upgrade that stopped after the point of no return (a
   * cancel, a rejected gate): the release is at the target, deployed by that run's upgradeRelease
   * or finalizeUpgrade, and the legacy database is still there. Its backup is verified again on
   * this host against the SHA256SUMS it wrote; START says what approving continues; then the run
   * goes on from the import as that run would have, every gate waiting for a person.
   */
  private UpgradeReport continueEarlierRun(HelmActivities.ReleaseInfo release) {
    String earlier = leftovers.earlierRun();
    continuing = true;
    runbook.continueRun(req.hostBackupDir() + "/" + workflowId + "/" + earlier);
    for (RunbookStep s : RunbookStep.beforeImport()) {
      steps.skip(s.id(), "done by the earlier run " + earlier);
    }
    String notVerified = runbook.verifyKeptBackup();
    if (req.dryRunRequested()) {
      return plan();
    }
    gates.blockNextOpening(notVerified);
    passOrChangeNothing(
        Gate.START, GateEvidences.continuing(facts(), backup(), release, leftovers, notVerified));
    startApproved = true;
    pointOfNoReturnPassed = true;
    gates.waitWithoutTimeout();
    new AfterPointOfNoReturn(
            runbook, proof, steps, this::phase, this::passOrStopHere, () -> manualRestore = true)
        .run(true);
    return finish(
        Outcome.COMPLETED,
        Phase.COMPLETED,
        "OpsChain runs "
            + req.targetVersion()
            + " on CNPG; the legacy database is removed (continued from run "
            + earlier
            + ")");
  }

  /** Validates the request, sets up the gates and the host dir, and lists the steps ahead. */
  private void begin(UpgradeRequest request) {
    workflowId = Workflow.getInfo().getWorkflowId();
    req = UpgradeRequests.validate(request, workflowId);
    gates.configure(
        req.approvers(), UpgradeRequests.parseDuration(req.gateTimeout()), req.gatesSkipped());
    gates.onOpenOrClose(this::refreshDetails);
    // The host dir, like every marker, carries the run id, so a later run of the same namespace
    // never reuses or overwrites an earlier run's backup.
    String hostDir = req.hostBackupDir() + "/" + workflowId + "/" + Workflow.getInfo().getRunId();
    runbook.begin(req, workflowId, hostDir);
  }

  private void claimHost() {
    HostActivities.HostQueue q = runbook.claimHost();
    cluster = q.cluster();
    clusterSource = q.clusterSource();
    // The worker's approval policy decides who may approve (the request may narrow it).
    if (q.policy() != null) {
      gates.useApprovers(ApprovalRules.approvers(req.approvers(), req.gatesSkipped(), q.policy()));
      gates.requireSecondApprover(q.policy().secondApproverGates());
    } else if (req.approvers().isEmpty() && !q.defaultApprovers().isEmpty()) {
      // The request names no approvers: the worker's configured defaults apply.
      gates.useApprovers(q.defaultApprovers());
    }
    // The search attributes, when the worker says the namespace has them registered.
    searchAttributes = q.searchAttributes();
    if (searchAttributes) {
      Workflow.upsertTypedSearchAttributes(
          OPSCHAIN_NAMESPACE.valueSet(req.namespace()), UPGRADE_PHASE.valueSet(phase.name()));
    }
  }

  private void endIfNotNeeded(HelmActivities.ReleaseInfo release) {
    String notNeeded = Reasons.notNeeded(req, release, runbook.preflightResult());
    if (notNeeded != null) {
      throw new Ended(finish(Outcome.SKIPPED, Phase.SKIPPED, notNeeded));
    }
  }

  // ---- what a gate's answer means ----

  /** Approved goes on; anything else ends the run before anything was changed. */
  private void passOrChangeNothing(Gate gate, GateEvidence evidence) {
    Gates.Result result = gate(gate, evidence);
    if (result != Gates.Result.APPROVED) {
      throw new Ended(
          finish(Outcome.ABORTED, Phase.ABORTED, gates.why(gate, result) + nothingChanged()));
    }
  }

  /** Approved goes on; anything else puts OpsChain back in service on the current version. */
  private void passOrPutBackInService(Gate gate, GateEvidence evidence) {
    Gates.Result result = gate(gate, evidence);
    if (result != Gates.Result.APPROVED) {
      throw new Ended(putBackInService(gates.why(gate, result)));
    }
  }

  /** Approved goes on; anything else stops here, after the point of no return, undoing nothing. */
  private void passOrStopHere(Gate gate, GateEvidence evidence, String state, String blocked) {
    runbook.stateIfStoppedNow(state);
    gates.blockNextOpening(blocked);
    Gates.Result result = gate(gate, evidence);
    if (result != Gates.Result.APPROVED) {
      throw new Ended(
          finish(
              Outcome.ABORTED,
              Phase.ABORTED,
              Reasons.stoppedAfterPointOfNoReturn(
                  gates.why(gate, result), state, runbook.backupLocation())));
    }
  }

  private Gates.Result gate(Gate gate, GateEvidence evidence) {
    String name = "gate " + gate.name();
    Phase before = phase;
    phase(Phase.AWAITING_APPROVAL, "waiting at gate " + gate + ": " + gate.question());
    steps.start(name, gate.question());
    Gates.Result result;
    try {
      result = gates.await(gate, evidence);
    } catch (CanceledFailure e) {
      steps.end(name, StepState.CANCELED, "closed undecided: the run was cancelled");
      throw e;
    }
    steps.end(
        name,
        result == Gates.Result.APPROVED ? StepState.DONE : StepState.FAILED,
        gates.why(gate, result));
    phase(before, "passed gate " + gate);
    return result;
  }

  // ---- compensation before the point of no return ----

  /** Runs the reversible steps; an abort or a failure among them puts OpsChain back in service. */
  private void runReversibly(Runnable reversibleSteps) {
    reversibleScope = Workflow.newCancellationScope(reversibleSteps);
    if (gates.abortRequest() != null) {
      reversibleScope.cancel("aborted before the first step");
    }
    try {
      reversibleScope.run();
    } catch (ActivityFailure | CanceledFailure | ApplicationFailure e) {
      if (cancelRequested()) {
        throw e; // run() puts OpsChain back, in a scope the cancel does not reach
      }
      throw new Ended(putBackInService(e));
    } finally {
      reversibleScope = null;
    }
  }

  private UpgradeReport putBackInService(RuntimeException cause) {
    // The abort cancelled the running step: however that step reported its end, it ended
    // because of the abort.
    if (gates.abortRequest() != null) {
      return putBackInService(gates.why(null, Gates.Result.ABORTED));
    }
    log.warn("step failed before the point of no return: {}", Failures.describe(cause));
    UpgradeReport report = putBackInService("failed: " + Failures.describe(cause));
    String type = Failures.type(cause);
    throw ApplicationFailure.newNonRetryableFailureWithCause(
        report.reason(), type.equals("Canceled") ? "StepFailed" : type, cause);
  }

  private UpgradeReport putBackInService(String why) {
    return putBackInService(why, Outcome.ABORTED, Phase.ABORTED);
  }

  /**
   * Redeploys the current version, not stopped, waits for the services and checks the db. Runs in a
   * detached scope: a cancel that arrives meanwhile does not stop it half-way.
   */
  private UpgradeReport putBackInService(String why, Outcome outcome, Phase endPhase) {
    compensationStarted = true;
    phase(
        Phase.COMPENSATING, why + "; putting OpsChain back in service on " + req.currentVersion());
    String[] scaledBack = new String[1];
    try {
      Workflow.newDetachedCancellationScope(
              () -> {
                proof.removeUnfinishedRehearsal();
                scaledBack[0] = new Compensation(runbook).redeployCurrent();
                new Compensation(runbook).checkDatabaseBack();
              })
          .run();
    } catch (ActivityFailure e) {
      phase(Phase.FAILED, "could not put OpsChain back in service: " + Failures.describe(e));
      if (FailureTypes.DATABASE_NOT_IN_SERVICE.equals(Failures.type(e))) {
        throw ApplicationFailure.newNonRetryableFailureWithCause(
            Reasons.notBackInService(
                req, why, Failures.describe(e), backup(), runbook.backupLocation()),
            FailureTypes.DATABASE_NOT_IN_SERVICE,
            e);
      }
      throw ApplicationFailure.newNonRetryableFailureWithCause(
          Reasons.compensationFailed(req, why, Failures.describe(e)),
          FailureTypes.COMPENSATION_FAILED,
          e);
    }
    String backupNote =
        (scaledBack[0] == null ? "" : scaledBack[0])
            + (backup() == null ? "" : "; the backup is kept at " + runbook.backupLocation());
    return finish(
        outcome,
        endPhase,
        why + "; OpsChain is back in service on " + req.currentVersion() + backupNote);
  }

  // ---- the end of a run, and the dry run ----

  private UpgradeReport finish(Outcome outcome, Phase endPhase, String reason) {
    phase(endPhase, reason);
    steps.skipRemaining("not run: " + outcome);
    // Detached: a run whose cancel was requested still lets its handlers (an approveGate update
    // waiting for its gate to close) answer.
    Workflow.newDetachedCancellationScope(() -> Workflow.await(Workflow::isEveryHandlerFinished))
        .run();
    return new UpgradeReport(
        outcome,
        reason,
        req.namespace(),
        req.currentVersion(),
        req.targetVersion(),
        steps.snapshot(),
        backup(),
        gates.log(),
        outcome == Outcome.PLANNED ? plannedChanges : List.of(),
        manualRestore);
  }

  // ---- shared helpers ----

  private void phase(Phase p, String msg) {
    if (searchAttributes && p != phase) {
      Workflow.upsertTypedSearchAttributes(UPGRADE_PHASE.valueSet(p.name()));
    }
    phase = p;
    message = msg;
    refreshDetails();
  }

  /**
   * The Web UI's Current Details: the phase and message; while a gate is open, its name, what
   * approving does, the evidence lines and the exact commands that approve or reject it.
   */
  private void refreshDetails() {
    StringBuilder d = new StringBuilder("**" + phase + "** " + message);
    var open = gates.open();
    if (open != null) {
      String ns = req == null ? "<namespace>" : req.namespace();
      d.append("\n\n### Open gate: ").append(open.gate()).append("\n\n");
      d.append(open.question()).append("\n\n");
      if (open.evidence() != null) {
        d.append("**Approving:** ").append(open.evidence().summary()).append("\n\n");
        for (String line : open.evidence().details()) {
          d.append("- ").append(line).append("\n");
        }
      }
      d.append("\n**Approve** (or `reject`) with the client:\n\n`bin/opschain-upgrade approve ")
          .append(ns)
          .append(" --gate ")
          .append(open.gate())
          .append(" --opening ")
          .append(open.opening())
          .append(" --by <you> --comment '...'`\n\nor the temporal CLI:\n\n")
          .append("`temporal workflow update execute --workflow-id ")
          .append(workflowId)
          .append(" --name approveGate --input '{\"gate\":\"")
          .append(open.gate())
          .append("\",\"by\":\"<you>\",\"opening\":\"")
          .append(open.opening())
          .append("\"}'`");
    }
    Workflow.setCurrentDetails(d.toString());
  }

  private UpgradeReport plan() {
    plannedChanges = runbook.plan();
    return finish(
        Outcome.PLANNED, Phase.PLANNED, "dry run: nothing was changed; the plan lists each step");
  }

  private RunbookStep.Facts facts() {
    return runbook.facts();
  }

  private ClusterActivities.PreflightResult preflight() {
    return runbook.preflightResult();
  }

  private BackupEvidence backup() {
    return runbook.backup();
  }

  /** Ends the run early with a report (a gate not passed, or nothing to do). */
  private static final class Ended extends RuntimeException {
    private final transient UpgradeReport report;

    Ended(UpgradeReport report) {
      super(report.reason(), null, false, false);
      this.report = report;
    }
  }

  // ---- handlers ----

  @Override
  public void approve(GateDecision decision) {
    String refusal = gates.decide(decision, true, "signal");
    if (refusal != null) {
      log.warn("approve signal ignored: {}", refusal);
    }
  }

  @Override
  public void reject(GateDecision decision) {
    String refusal = gates.decide(decision, false, "signal");
    if (refusal != null) {
      log.warn("reject signal ignored: {}", refusal);
    }
  }

  @Override
  public void abort(AbortRequest request) {
    String refusal = gates.abort(request);
    if (refusal != null) {
      log.warn("abort signal ignored: {}", refusal);
      return;
    }
    if (!pointOfNoReturnPassed && reversibleScope != null) {
      reversibleScope.cancel("aborted by " + request.by());
    }
  }

  @Override
  public UpgradeStatus approveGate(GateDecision decision) {
    return decideAndAwait(decision, true);
  }

  @Override
  public void validateApproveGate(GateDecision decision) {
    String refusal = gates.refusal(decision, true);
    if (refusal != null) {
      throw new IllegalArgumentException(refusal);
    }
  }

  @Override
  public UpgradeStatus rejectGate(GateDecision decision) {
    return decideAndAwait(decision, false);
  }

  @Override
  public void validateRejectGate(GateDecision decision) {
    String refusal = gates.refusal(decision, false);
    if (refusal != null) {
      throw new IllegalArgumentException(refusal);
    }
  }

  /**
   * Takes the decision, then answers with the status once it took effect: the gate closed and the
   * workflow on its way to the next step (or the end), so the caller reads the phase after it.
   */
  private UpgradeStatus decideAndAwait(GateDecision decision, boolean approve) {
    var open = gates.open();
    gates.decide(decision, approve, "update");
    if (open != null) {
      String id = open.opening();
      Workflow.newDetachedCancellationScope(
              () -> Workflow.await(() -> gates.closedOrStillOpenFor(id)))
          .run();
    }
    return status();
  }

  @Override
  public UpgradeStatus status() {
    return new UpgradeStatus(
        workflowId,
        req == null ? null : req.namespace(),
        phase,
        message,
        gates.open(),
        steps.snapshot(),
        gates.log(),
        progress != null && progress.step().equals(steps.running()) ? progress : null,
        backup(),
        gates.abortRequest(),
        pointOfNoReturnPassed);
  }

  @Override
  public void reportProgress(Progress p) {
    if (p != null && p.step() != null && p.step().equals(steps.running())) {
      progress = p;
    }
  }
}
