package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ChildWorkflowFailure;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.ChildWorkflowOptions;
import io.temporal.workflow.Workflow;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * The steps of {@link DbUpgradeWorkflowImpl} after the BACKUP_VERIFIED gate: nothing here is undone
 * blindly. A failed step stops at the RETRY_STEP gate that says what state is left; only a failed
 * or timed-out import opens MANUAL_RESTORE. Workflow code.
 */
final class AfterPointOfNoReturn {
  private static final Logger log = Workflow.getLogger(AfterPointOfNoReturn.class);

  /** The workflow's gate past the point of no return: approved goes on, else the run ends. */
  interface Stop {
    /** {@code blocked}: why approving is refused at this opening (null: it may be approved). */
    void passOrStopHere(Gate gate, GateEvidence evidence, String state, String blocked);

    default void passOrStopHere(Gate gate, GateEvidence evidence, String state) {
      passOrStopHere(gate, evidence, state, null);
    }
  }

  private final UpgradeSteps runbook;
  private final DataProof proof;
  private final Stop stop;
  private final Runnable onManualRestore;
  private final BiConsumer<Phase, String> phase;
  private final Steps steps;

  AfterPointOfNoReturn(
      UpgradeSteps runbook,
      DataProof proof,
      Steps steps,
      BiConsumer<Phase, String> phase,
      Stop stop,
      Runnable onManualRestore) {
    this.runbook = runbook;
    this.proof = proof;
    this.steps = steps;
    this.phase = phase;
    this.stop = stop;
    this.onManualRestore = onManualRestore;
  }

  /**
   * @param releaseDeployed the new version is deployed already, by an earlier run this one
   *     continues: the steps start at the import
   */
  void run(boolean releaseDeployed) {
    if (!releaseDeployed) {
      untilDone(
          RunbookStep.UPGRADE_RELEASE,
          "the legacy database is stopped and unchanged; the release may be at either version",
          () -> {
            runbook.requireVerifiedBackup("upgradeRelease");
            runbook.upgradeRelease();
          });
    }
    String differs = importAndCompare();
    untilDone(
        RunbookStep.RESTART_SERVICES,
        "the CNPG database holds the data; OpsChain's services may not be running",
        runbook::restartServices);
    stop.passOrStopHere(
        Gate.SERVICES_VERIFIED,
        GateEvidences.withDetails(
            GateEvidences.servicesVerified(runbook.facts(), runbook.backup()), proof.parityLines()),
        "OpsChain runs the new version on CNPG with recoveryMode");
    untilDone(
        RunbookStep.PREPARE_FINAL_VALUES,
        "OpsChain runs the new version on CNPG with recoveryMode",
        runbook::prepareFinalValues);
    stop.passOrStopHere(
        Gate.FINALIZE,
        GateEvidences.withDetails(
            GateEvidences.finalize(runbook.facts(), runbook.backup(), runbook.finalValues()),
            proof.parityLines()),
        "OpsChain runs the new version; the legacy db deployment is kept",
        differs == null
            ? null
            : differs + "; the legacy deployment and its volume stay until the data is equal");
    untilDone(
        RunbookStep.FINALIZE_UPGRADE,
        "OpsChain runs the new version on CNPG; the final deploy may not have finished",
        () -> {
          runbook.requireVerifiedBackup("finalizeUpgrade");
          runbook.finalizeUpgrade();
        });
  }

  /**
   * Waits for the import and compares its data with the source's; a failed import or a difference
   * offers the manual restore, whose data is compared again. Returns the difference that is left,
   * or null.
   */
  private String importAndCompare() {
    String importFailure =
        resultUntilDone(
            RunbookStep.AWAIT_IMPORT,
            "the release is at "
                + runbook.facts().req().targetVersion()
                + "; the import's state is not known",
            runbook::awaitImport);
    String differs =
        importFailure != null
            ? null
            : resultUntilDone(
                RunbookStep.CHECK_PARITY,
                "the import finished; its data was not compared yet",
                () -> proof.parity(RunbookStep.CHECK_PARITY, "cnpg"));
    if (importFailure == null && differs == null) {
      return null;
    }
    offerManualRestore(importFailure != null ? importFailure : differs);
    return resultUntilDone(
        RunbookStep.CHECK_RESTORED_PARITY,
        "the manual restore finished; its data was not compared yet",
        () -> proof.parity(RunbookStep.CHECK_RESTORED_PARITY, "restored"));
  }

  /**
   * The import failed, or its data differs from the source: MANUAL_RESTORE is offered (after the
   * restore checks), and approving it runs the runbook's manual restore.
   */
  private void offerManualRestore(String why) {
    String state = "the import failed (" + why + ") and the manual restore was not run";
    GateEvidence evidence = GateEvidences.manualRestore(runbook.facts(), runbook.backup(), why);
    String blocked = null;
    RestorePodActivities.RestoreTargetCheck check =
        resultUntilDone(RunbookStep.CHECK_RESTORE_TARGET, state, this::checkRestoreTarget);
    evidence = GateEvidences.withRestoreTarget(evidence, check);
    blocked = check.passes() ? null : String.join("; ", check.problems());
    stop.passOrStopHere(Gate.MANUAL_RESTORE, evidence, state, blocked);
    onManualRestore.run();
    untilDone(
        RunbookStep.MANUAL_RESTORE,
        "the manual restore stopped part-way; the CNPG database is not usable yet",
        this::restoreManually);
  }

  /**
   * Before MANUAL_RESTORE opens: the backup's PG_VERSION (read on the host that holds it), then the
   * restore image's PostgreSQL major (its {@code postgres --version} in a short-lived pod) and the
   * PVC the restore pod will mount, which must exist and belong to the cluster.
   */
  private RestorePodActivities.RestoreTargetCheck checkRestoreTarget() {
    UpgradeRequest req = runbook.facts().req();
    String hostDir = runbook.facts().hostDir();
    String pgVersion =
        runbook
            .step(
                RunbookStep.BACKUP_PG_VERSION,
                () ->
                    runbook
                        .acts()
                        .backup("PG_VERSION of the backup in " + hostDir)
                        .backupPgVersion(new BackupActivities.BackupPgVersionRequest(hostDir)),
                r -> "the backup is PostgreSQL " + r.pgVersion())
            .pgVersion();
    return runbook.step(
        RunbookStep.CHECK_RESTORE_TARGET,
        () ->
            runbook
                .acts()
                .restorePod("check " + req.restoreImage() + " and PVC " + req.pvcName())
                .checkRestoreTarget(
                    new RestorePodActivities.RestoreTargetRequest(
                        req.namespace(),
                        req.clusterName(),
                        req.pvcName(),
                        req.restoreImage(),
                        pgVersion,
                        0)),
        r -> r.passes() ? "image and PVC fit the backup" : String.join("; ", r.problems()));
  }

  /**
   * The runbook's manual database migration, as a child workflow on the verified backup. A failed
   * child stops at RETRY_STEP (approving starts the child again: each of its steps checks state
   * first).
   */
  private void restoreManually() {
    phase.accept(Phase.MANUAL_RESTORE, "restoring the backup into the CNPG cluster by hand");
    var request = runbook.manualRestoreRequest();
    ManualRestoreWorkflow child =
        Workflow.newChildWorkflowStub(
            ManualRestoreWorkflow.class,
            ChildWorkflowOptions.newBuilder()
                .setWorkflowId(runbook.workflowId() + "-manual-restore")
                .build());
    runbook.step(
        RunbookStep.MANUAL_RESTORE,
        () -> child.restore(request),
        r -> "restored; pg_controldata: " + r.controlData());
  }

  /**
   * Runs a step past the point of no return. When it fails, the run does not end: it stops at
   * RETRY_STEP, which says what failed and what state is left; approving runs the step again,
   * rejecting ends the run there.
   */
  private <T> T resultUntilDone(RunbookStep step, String state, Supplier<T> body) {
    while (true) {
      runbook.stateIfStoppedNow(step.id() + " did not finish; " + state);
      try {
        return FINISH_ON_CANCEL.contains(step) ? finishingOnCancel(body) : body.get();
      } catch (ActivityFailure | ChildWorkflowFailure e) {
        if (CancellationScope.current().isCancelRequested()) {
          throw e; // a cancel ends the run with the state left (DbUpgradeWorkflowImpl.cancelled)
        }
        String why = describe(e);
        log.warn("{} failed after the point of no return: {}", step.id(), why);
        stop.passOrStopHere(
            Gate.RETRY_STEP,
            GateEvidences.retryStep(runbook.facts(), runbook.backup(), step, why, state),
            step.id() + " failed; " + state);
      }
    }
  }

  /**
   * The steps past the point of no return that change something (the deploys, the final values, the
   * manual restore): a cancel that arrives while one runs lets it finish, in a scope the cancel
   * does not reach, and the run ends right after it, so it never stops half-way. The waits and
   * checks (the import watch, the censuses) stop at once.
   */
  private static final java.util.Set<RunbookStep> FINISH_ON_CANCEL =
      java.util.EnumSet.of(
          RunbookStep.UPGRADE_RELEASE,
          RunbookStep.RESTART_SERVICES,
          RunbookStep.PREPARE_FINAL_VALUES,
          RunbookStep.FINALIZE_UPGRADE,
          RunbookStep.MANUAL_RESTORE);

  private static <T> T finishingOnCancel(Supplier<T> body) {
    java.util.List<T> result = new java.util.ArrayList<>(1);
    Workflow.newDetachedCancellationScope(() -> result.add(body.get())).run();
    return result.get(0);
  }

  /** The failure for a person; a host that never took its activity is named, with the way out. */
  private String describe(RuntimeException e) {
    String activity = Failures.notPickedUp(e);
    if (activity == null) {
      return Failures.describe(e);
    }
    return "HostGone: no worker of host "
        + runbook.facts().host()
        + " took "
        + activity
        + " from its queue "
        + runbook.acts().hostQueue()
        + " within "
        + runbook.acts().hostStart().toSeconds()
        + " s. That host holds the backup ("
        + runbook.backupLocation()
        + "): start its worker again, then approve RETRY_STEP";
  }

  private void untilDone(RunbookStep step, String state, Runnable body) {
    resultUntilDone(
        step,
        state,
        () -> {
          body.run();
          return null;
        });
  }
}
