package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.RunbookStep.*;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.CensusResult;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.RehearsalResult;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.Source;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
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
import io.temporal.failure.ChildWorkflowFailure;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.ChildWorkflowOptions;
import io.temporal.workflow.Workflow;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * {@link DbUpgradeWorkflow}: {@link #upgrade} reads like the runbook, one private method per step,
 * each calling its activity; each step's id and texts are in {@link RunbookStep}, its activity
 * options in {@link UpgradeActivities}. Before the BACKUP_VERIFIED gate is approved nothing
 * destructive has happened, and any abort, rejection, timeout, cancel or failure puts OpsChain back
 * in service on the current version ({@link #putBackInService}). After it, nothing is undone
 * blindly: a failed step stops at RETRY_STEP and says what state is left ({@link #untilDone}), and
 * a failed import offers the manual restore.
 *
 * <p>What the steps learn (the host, preflight, the backup, the censuses, the values files) are the
 * activities' immutable result records, kept here and handed to {@link GateEvidences}, {@link
 * Reasons} and {@link RunbookStep}'s texts as arguments; no other class reads this one's state.
 */
public class DbUpgradeWorkflowImpl implements DbUpgradeWorkflow {

  /** Keyword search attributes; register them on the server (README) to filter in the UI. */
  public static final SearchAttributeKey<String> OPSCHAIN_NAMESPACE =
      SearchAttributeKey.forKeyword("OpsChainNamespace");

  public static final SearchAttributeKey<String> UPGRADE_PHASE =
      SearchAttributeKey.forKeyword("UpgradePhase");

  /** How long the rehearsal's pod may take to start, and PostgreSQL to recover the copy. */
  static final long REHEARSAL_TIMEOUT_SECONDS = 900;

  /**
   * The steps past the point of no return that change something (the deploys, the final values, the
   * manual restore): a cancel that arrives while one runs lets it finish, in a scope the cancel
   * does not reach, and the run ends right after it, so it never stops half-way. The waits and
   * checks (the import watch, the censuses) stop at once.
   */
  private static final Set<RunbookStep> FINISH_ON_CANCEL =
      EnumSet.of(
          UPGRADE_RELEASE,
          RESTART_SERVICES,
          PREPARE_FINAL_VALUES,
          FINALIZE_UPGRADE,
          MANUAL_RESTORE);

  private static final Logger log = Workflow.getLogger(DbUpgradeWorkflowImpl.class);

  private final Steps steps = new Steps();
  private final Gates gates = new Gates();

  // ---- the request and where the run stands ----
  private UpgradeRequest req;
  private String workflowId;
  private UpgradeActivities acts;
  private Phase phase = Phase.VALIDATING;
  private String message = "checking the request";
  private Progress progress;
  private List<PlannedChange> plannedChanges = List.of();
  private boolean searchAttributes;
  private boolean startApproved;
  private boolean pointOfNoReturnPassed;
  private boolean manualRestore;
  private boolean compensationStarted;
  private boolean continuing;
  private CancellationScope root;
  private CancellationScope reversibleScope;

  /** Past the point of no return: the state the run leaves if it stops now (a cancel). */
  private String stateIfStoppedNow = "the new version was deployed";

  // ---- what the steps learnt: their result records, in the order they arrive ----
  private HostActivities.HostQueue host;
  private String hostDir;
  private ClusterActivities.PreflightResult preflight;
  private Leftovers leftovers = new Leftovers(List.of(), null, null);
  private ValuesActivities.ValuesResult migrationValues;
  private ValuesActivities.ValuesResult finalValues;
  private CensusResult sourceCensus;
  private BackupActivities.BackupRequest backupRequest;
  private BackupActivities.PodBackup podBackup;
  private BackupEvidence backup;
  private boolean rehearsalStarted;
  private RehearsalResult rehearsal;
  private CensusResult parity;

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

  // ==== the runbook ====

  private UpgradeReport upgrade(UpgradeRequest request) {
    begin(request);
    claimHost();
    HelmActivities.ReleaseInfo release = releaseStatus();
    preflight();
    leftovers = Leftovers.find(req, release, preflight, workflowId, Workflow.getInfo().getRunId());
    if (leftovers.pastPointOfNoReturn(req, release) && preflight.legacyDbPresent()) {
      return continueEarlierRun(release);
    }
    endIfNotNeeded(release);
    Reasons.requireDeployedVersion(req, release, preflight);
    checkFreeSpace();
    checkValues();
    if (req.dryRunRequested()) {
      return plan();
    }
    passOrChangeNothing(
        Gate.START,
        GateEvidences.start(
            facts(), preflight, release, host.cluster(), host.clusterSource(), leftovers));
    startApproved = true;
    runReversibly(() -> {
      stopOpsChain();
      scaleDbUp();
      sourceCensus();
      takeBackup();
      copyBackupOut();
      rehearseRestore();
      prepareMigrationValues();
    });
    gates.blockNextOpening(rehearsalProblem());
    passOrPutBackInService(
        Gate.BACKUP_VERIFIED,
        GateEvidences.backupVerified(
            facts(), backup, GateEvidences.dataLines(req, sourceCensus, rehearsal)));
    pointOfNoReturnPassed = true;
    gates.waitWithoutTimeout();
    untilDone(
        UPGRADE_RELEASE,
        "the legacy database is stopped and unchanged; the release may be at either version",
        this::upgradeRelease);
    fromTheImport();
    return finish(
        Outcome.COMPLETED,
        Phase.COMPLETED,
        "OpsChain runs " + req.targetVersion() + " on CNPG; the legacy database is removed");
  }

  /**
   * After the new version is deployed: the import, its data compared with the source's (the manual
   * restore offered when either fails), the restart, then the final deploy that removes the legacy
   * database, each behind its gate.
   */
  private void fromTheImport() {
    String differs = importAndCompare();
    untilDone(
        RESTART_SERVICES,
        "the CNPG database holds the data; OpsChain's services may not be running",
        this::restartServices);
    passOrStopHere(
        Gate.SERVICES_VERIFIED,
        GateEvidences.withDetails(
            GateEvidences.servicesVerified(facts(), backup), GateEvidences.parityLines(parity)),
        "OpsChain runs the new version on CNPG with recoveryMode",
        null);
    untilDone(
        PREPARE_FINAL_VALUES,
        "OpsChain runs the new version on CNPG with recoveryMode",
        this::prepareFinalValues);
    passOrStopHere(
        Gate.FINALIZE,
        GateEvidences.withDetails(
            GateEvidences.finalize(facts(), backup, finalValues.path()),
            GateEvidences.parityLines(parity)),
        "OpsChain runs the new version; the legacy db deployment is kept",
        differs == null
            ? null
            : differs + "; the legacy deployment and its volume stay until the data is equal");
    untilDone(
        FINALIZE_UPGRADE,
        "OpsChain runs the new version on CNPG; the final deploy may not have finished",
        this::finalizeUpgrade);
  }

  /**
   * Waits for the import and compares its data with the source's; a failed import or a difference
   * offers the manual restore, whose data is compared again. Returns the difference that is left,
   * or null.
   */
  private String importAndCompare() {
    String importFailure =
        resultUntilDone(
            AWAIT_IMPORT,
            "the release is at " + req.targetVersion() + "; the import's state is not known",
            this::awaitImport);
    String differs =
        importFailure != null
            ? null
            : resultUntilDone(
                CHECK_PARITY,
                "the import finished; its data was not compared yet",
                () -> checkParity(CHECK_PARITY, "cnpg"));
    if (importFailure == null && differs == null) {
      return null;
    }
    offerManualRestore(importFailure != null ? importFailure : differs);
    return resultUntilDone(
        CHECK_RESTORED_PARITY,
        "the manual restore finished; its data was not compared yet",
        () -> checkParity(CHECK_RESTORED_PARITY, "restored"));
  }

  /**
   * The import failed, or its data differs from the source: MANUAL_RESTORE is offered (after the
   * restore checks), and approving it runs the runbook's manual restore.
   */
  private void offerManualRestore(String why) {
    String state = "the import failed (" + why + ") and the manual restore was not run";
    RestorePodActivities.RestoreTargetCheck check =
        resultUntilDone(CHECK_RESTORE_TARGET, state, this::checkRestoreTarget);
    passOrStopHere(
        Gate.MANUAL_RESTORE,
        GateEvidences.withRestoreTarget(GateEvidences.manualRestore(facts(), backup, why), check),
        state,
        check.passes() ? null : String.join("; ", check.problems()));
    manualRestore = true;
    untilDone(
        MANUAL_RESTORE,
        "the manual restore stopped part-way; the CNPG database is not usable yet",
        this::restoreManually);
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
    hostDir = req.hostBackupDir() + "/" + workflowId + "/" + earlier;
    for (RunbookStep s : RunbookStep.beforeImport()) {
      steps.skip(s.id(), "done by the earlier run " + earlier);
    }
    String notVerified = verifyKeptBackup();
    if (req.dryRunRequested()) {
      return plan();
    }
    gates.blockNextOpening(notVerified);
    passOrChangeNothing(
        Gate.START, GateEvidences.continuing(facts(), backup, release, leftovers, notVerified));
    startApproved = true;
    pointOfNoReturnPassed = true;
    gates.waitWithoutTimeout();
    fromTheImport();
    return finish(
        Outcome.COMPLETED,
        Phase.COMPLETED,
        "OpsChain runs "
            + req.targetVersion()
            + " on CNPG; the legacy database is removed (continued from run "
            + earlier
            + ")");
  }

  // ==== the steps, in runbook order ====

  /** Validates the request, sets up the gates and the host dir, and lists the steps ahead. */
  private void begin(UpgradeRequest request) {
    workflowId = Workflow.getInfo().getWorkflowId();
    req = UpgradeRequests.validate(request, workflowId);
    gates.configure(
        req.approvers(), UpgradeRequests.parseDuration(req.gateTimeout()), req.gatesSkipped());
    gates.onOpenOrClose(this::refreshDetails);
    // The host dir, like every marker, carries the run id, so a later run of the same namespace
    // never reuses or overwrites an earlier run's backup.
    hostDir = req.hostBackupDir() + "/" + workflowId + "/" + Workflow.getInfo().getRunId();
    acts = new UpgradeActivities(null, UpgradeRequests.parseDuration(req.importTimeout()));
    for (RunbookStep s : RunbookStep.of(RunbookStep.Path.UPGRADE)) {
      steps.plan(s.id(), s.describe(facts()));
    }
  }

  /**
   * The worker host that will hold the backup, its queues, and the worker's approval policy: it
   * decides who may approve (the request may narrow it); without one, the worker's default
   * approvers apply when the request names none.
   */
  private void claimHost() {
    host =
        step(
            CLAIM_HOST,
            () ->
                acts.host("claim a worker host for " + req.namespace())
                    .claimHost(new HostActivities.ClaimRequest(req.namespace())),
            r -> "host %s, queue %s, cluster %s".formatted(r.host(), r.taskQueue(), r.cluster()));
    acts =
        new UpgradeActivities(
                host.taskQueue(),
                host.clusterQueue(),
                UpgradeRequests.parseDuration(req.importTimeout()))
            .withHostStart(host.hostStartSeconds());
    if (host.policy() != null) {
      gates.useApprovers(
          ApprovalRules.approvers(req.approvers(), req.gatesSkipped(), host.policy()));
      gates.requireSecondApprover(host.policy().secondApproverGates());
    } else if (req.approvers().isEmpty() && !host.defaultApprovers().isEmpty()) {
      gates.useApprovers(host.defaultApprovers());
    }
    searchAttributes = host.searchAttributes();
    if (searchAttributes) {
      Workflow.upsertTypedSearchAttributes(
          OPSCHAIN_NAMESPACE.valueSet(req.namespace()), UPGRADE_PHASE.valueSet(phase.name()));
    }
  }

  private HelmActivities.ReleaseInfo releaseStatus() {
    phase(Phase.PREFLIGHT, "read-only checks");
    HelmActivities.ReleaseInfo release =
        step(
            RELEASE_STATUS,
            () ->
                acts.helm("helm status " + req.namespace() + "/" + req.release())
                    .releaseStatus(
                        new HelmActivities.ReleaseRequest(req.namespace(), req.release())),
            r ->
                r.exists()
                    ? "revision %d %s, version %s"
                        .formatted(r.revision(), r.status(), r.chartVersion())
                    : "release not found");
    if (!release.exists()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Helm release " + req.release() + " not found in namespace " + req.namespace(),
          FailureTypes.PREFLIGHT_FAILED);
    }
    return release;
  }

  private void preflight() {
    preflight =
        step(
            PREFLIGHT,
            () ->
                acts.cluster("preflight in " + req.namespace())
                    .preflight(
                        new ClusterActivities.PreflightRequest(
                            req.namespace(),
                            req.release(),
                            req.dbDeployment(),
                            req.clusterName(),
                            req.restartDeployments(),
                            req.dbUser(),
                            req.podBackupDir())),
            r ->
                "legacy db %s, CNPG %s, database %d bytes"
                    .formatted(
                        r.legacyDbPresent() ? "present" : "absent",
                        r.cnpgServing() ? "serving" : "not serving",
                        r.dbSizeBytes()));
  }

  private void endIfNotNeeded(HelmActivities.ReleaseInfo release) {
    String notNeeded = Reasons.notNeeded(req, release, preflight);
    if (notNeeded != null) {
      throw new Ended(finish(Outcome.SKIPPED, Phase.SKIPPED, notNeeded));
    }
  }

  private void checkFreeSpace() {
    step(
        CHECK_FREE_SPACE,
        () ->
            acts.backup("free space under " + hostDir)
                .checkFreeSpace(
                    new BackupActivities.SpaceRequest(hostDir, preflight.dbSizeBytes())),
        ChangeResult::summary);
  }

  /**
   * Renders both values files the upgrade will deploy, writing nothing, so a values.yaml it cannot
   * use fails here, before START; the migration values' CNPG storage must hold the database.
   */
  private void checkValues() {
    migrationValues =
        values(
            CHECK_MIGRATION_VALUES,
            new ValuesActivities.ValuesRequest(
                req.valuesFile(),
                hostDir,
                ValuesActivities.Kind.MIGRATION,
                true,
                preflight.dbSizeBytes()));
    finalValues =
        values(
            CHECK_FINAL_VALUES,
            new ValuesActivities.ValuesRequest(
                req.valuesFile(), hostDir, ValuesActivities.Kind.FINAL, true, 0));
  }

  private void stopOpsChain() {
    phase(Phase.STOPPING, "stopping OpsChain for the downtime");
    deploy(
        STOP_OPSCHAIN, req.currentVersion(), List.of(req.valuesFile()), Map.of("stopped", "true"));
    step(
        AWAIT_STOPPED,
        () ->
            acts.clusterWait("wait for OpsChain to stop in " + req.namespace())
                .awaitWorkloadsStopped(UpgradeActivities.waitForRelease(req)),
        r -> r.summary());
  }

  private void scaleDbUp() {
    step(
        SCALE_DB_UP,
        () ->
            acts.cluster("scale " + req.namespace() + "/" + req.dbDeployment() + " to 1")
                .scaleDeployment(
                    new ClusterActivities.ScaleRequest(
                        req.namespace(), req.dbDeployment(), 1, false)),
        ChangeResult::summary);
    step(
        AWAIT_DB_READY,
        () ->
            acts.clusterWait("wait for " + req.namespace() + "/" + req.dbDeployment() + " ready")
                .awaitDeploymentReady(UpgradeActivities.waitFor(req, List.of(req.dbDeployment()))),
        r -> r.summary());
  }

  /** The legacy database's census, with OpsChain stopped and the database up. */
  private void sourceCensus() {
    sourceCensus =
        step(
            SOURCE_CENSUS,
            () ->
                acts.dataCheck("census of " + req.namespace() + "/" + req.dbDeployment())
                    .census(census(Source.LEGACY_DEPLOYMENT, req.dbDeployment(), "source", null)),
            CensusResult::summary);
  }

  /** pg_basebackup in the db pod; the request carries the run's marker (its workflow id). */
  private void takeBackup() {
    phase(Phase.BACKING_UP, "pg_basebackup in the db pod");
    backupRequest =
        new BackupActivities.BackupRequest(
            req.namespace(),
            req.dbDeployment(),
            req.podBackupDir(),
            req.maxRate(),
            req.dbUser(),
            workflowId,
            req.backupMode(),
            req.backupFormat(),
            hostDir);
    podBackup =
        step(
            TAKE_BACKUP,
            () ->
                acts.backup("pg_basebackup in " + req.namespace() + "/" + req.dbDeployment())
                    .takeBackup(backupRequest),
            r -> RunbookStep.tookBackup(req, r));
  }

  /** The backup on the host (copied out, or confirmed where it was streamed), then verified. */
  private void copyBackupOut() {
    phase(Phase.BACKING_UP, "copying the backup to " + hostDir);
    BackupEvidence copied =
        step(
            COPY_BACKUP_OUT,
            () ->
                acts.backup(
                        "copy backup from "
                            + podBackup.pod()
                            + " to "
                            + host.host()
                            + ":"
                            + hostDir)
                    .copyBackupOut(
                        new BackupActivities.CopyRequest(
                            req.namespace(),
                            podBackup.pod(),
                            podBackup.podDir(),
                            hostDir,
                            backupRequest.mode())),
            r -> RunbookStep.copiedBackup(req, r));
    backup =
        step(
            VERIFY_BACKUP,
            () ->
                acts.backup("verify backup in " + host.host() + ":" + hostDir)
                    .verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files())),
            r -> r.verified() ? "verified: " + String.join(", ", r.checks()) : "NOT verified");
    requireVerifiedBackup("the BACKUP_VERIFIED gate");
  }

  /** The restore rehearsal on the verified backup, unless the request skips it and says why. */
  private void rehearseRestore() {
    if (req.skipRehearsal() != null) {
      step(REHEARSE_RESTORE, () -> "skipped", r -> REHEARSE_RESTORE.describe(facts()));
      return;
    }
    DataCheckActivities.RehearsalRequest r = rehearsalRequest();
    rehearsalStarted = true;
    rehearsal =
        step(
            REHEARSE_RESTORE,
            () -> acts.dataCheck("rehearse the restore in pod " + r.podName()).rehearseRestore(r),
            RehearsalResult::summary);
  }

  /** Why BACKUP_VERIFIED may not be approved (a rehearsal that did not pass), or null. */
  private String rehearsalProblem() {
    return rehearsal == null || rehearsal.passed()
        ? null
        : rehearsal.problem() + ". Way out: " + rehearsal.wayOut();
  }

  private void prepareMigrationValues() {
    migrationValues =
        values(
            PREPARE_MIGRATION_VALUES,
            UpgradeActivities.migrationValues(req, hostDir, preflight.dbSizeBytes(), backup));
  }

  private void upgradeRelease() {
    requireVerifiedBackup("upgradeRelease");
    phase(Phase.UPGRADING, "deploying " + req.targetVersion() + " with db.recoveryMode");
    deploy(UPGRADE_RELEASE, req.targetVersion(), List.of(migrationValues.path()), Map.of());
  }

  /**
   * Returns null when the import succeeded, else why it failed (the fallback is offered). Only
   * ImportFailed and ImportTimedOut count as a failed import; any other failure (the API server
   * unreachable, say) is thrown: the import may still be running, and deleting its cluster would be
   * wrong.
   */
  private String awaitImport() {
    phase(Phase.IMPORTING, "CNPG imports the legacy database");
    try {
      step(
          AWAIT_IMPORT,
          () ->
              acts.cnpgWait("watch the CNPG import of " + req.namespace() + "/" + req.clusterName())
                  .awaitImport(
                      new CnpgActivities.ImportRequest(
                          req.namespace(), req.clusterName(), acts.importSeconds())),
          r -> r.phase() + ", " + r.readyInstances() + "/" + r.instances() + " ready");
      return null;
    } catch (ActivityFailure e) {
      String type = Failures.type(e);
      if (!FailureTypes.IMPORT_FAILED.equals(type) && !FailureTypes.IMPORT_TIMED_OUT.equals(type)) {
        throw e;
      }
      log.warn("import failed: {}", Failures.describe(e));
      return Failures.describe(e);
    }
  }

  /**
   * The CNPG database's census compared with the source's, after the import or the manual restore:
   * null when equal, else the differences. A run continuing an earlier one compares with that run's
   * source census (census-source.tsv in its backup directory, where the continued run works).
   */
  private String checkParity(RunbookStep step, String label) {
    parity =
        step(
            step,
            () ->
                acts.dataCheck("census of CNPG cluster " + req.clusterName())
                    .census(census(Source.CNPG_CLUSTER, req.clusterName(), label, "source")),
            CensusResult::summary);
    return parity.comparison().equal()
        ? null
        : "the CNPG database differs from the source: " + parity.comparison().differences();
  }

  /**
   * Before MANUAL_RESTORE opens: the backup's PG_VERSION (read on the host that holds it), then the
   * restore image's PostgreSQL major (its {@code postgres --version} in a short-lived pod) and the
   * PVC the restore pod will mount, which must exist and belong to the cluster.
   */
  private RestorePodActivities.RestoreTargetCheck checkRestoreTarget() {
    String pgVersion =
        step(
                BACKUP_PG_VERSION,
                () ->
                    acts.backup("PG_VERSION of the backup in " + hostDir)
                        .backupPgVersion(new BackupActivities.BackupPgVersionRequest(hostDir)),
                r -> "the backup is PostgreSQL " + r.pgVersion())
            .pgVersion();
    return step(
        CHECK_RESTORE_TARGET,
        () ->
            acts.restorePod("check " + req.restoreImage() + " and PVC " + req.pvcName())
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
    phase(Phase.MANUAL_RESTORE, "restoring the backup into the CNPG cluster by hand");
    requireVerifiedBackup("the manual restore");
    var request =
        new ManualRestoreWorkflow.ManualRestoreRequest(
            req, acts.hostQueue(), hostDir, backup, acts.clusterQueue());
    ManualRestoreWorkflow child =
        Workflow.newChildWorkflowStub(
            ManualRestoreWorkflow.class,
            ChildWorkflowOptions.newBuilder()
                .setWorkflowId(workflowId + "-manual-restore")
                .build());
    step(
        MANUAL_RESTORE,
        () -> child.restore(request),
        r -> "restored; pg_controldata: " + r.controlData());
  }

  private void restartServices() {
    phase(Phase.RESTARTING, "restarting OpsChain services");
    String restartedAt = Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString();
    step(
        RESTART_SERVICES,
        () ->
            acts.cluster("rollout restart in " + req.namespace())
                .rolloutRestart(
                    new ClusterActivities.RestartRequest(
                        req.namespace(), req.restartDeployments(), restartedAt, false)),
        ChangeResult::summary);
    step(
        AWAIT_ROLLOUT,
        () ->
            acts.clusterWait("wait for rollouts in " + req.namespace())
                .awaitRolloutComplete(UpgradeActivities.waitFor(req, req.restartDeployments())),
        r -> r.summary());
  }

  private void prepareFinalValues() {
    finalValues =
        values(
            PREPARE_FINAL_VALUES,
            new ValuesActivities.ValuesRequest(
                req.valuesFile(), hostDir, ValuesActivities.Kind.FINAL, false));
  }

  private void finalizeUpgrade() {
    requireVerifiedBackup("finalizeUpgrade");
    phase(Phase.FINALIZING, "deploying without db.recoveryMode and db.volume");
    deploy(FINALIZE_UPGRADE, req.targetVersion(), List.of(finalValues.path()), Map.of());
    step(
        AWAIT_LEGACY_DB_GONE,
        () ->
            acts.clusterWait("wait for " + req.namespace() + "/" + req.dbDeployment() + " removal")
                .awaitDeploymentGone(UpgradeActivities.waitFor(req, List.of(req.dbDeployment()))),
        r -> r.summary());
  }

  /**
   * The kept backup of the run this one continues, verified again on this host against the
   * SHA256SUMS that run wrote; null when it verifies, else why not (START cannot be approved).
   */
  private String verifyKeptBackup() {
    try {
      backup =
          step(
              VERIFY_BACKUP,
              () ->
                  acts.backup("verify the kept backup in " + host.host() + ":" + hostDir)
                      .verifyBackup(new BackupActivities.VerifyRequest(hostDir, List.of())),
              r ->
                  r.passesVerification()
                      ? "verified again: " + r.files().size() + " files"
                      : "NOT verified");
    } catch (ActivityFailure e) {
      return "the earlier run's backup in "
          + backupLocation()
          + " does not verify here: "
          + Failures.describe(e);
    }
    return backup.passesVerification() ? null : "the earlier run's backup does not verify";
  }

  // ==== compensation, before the point of no return ====

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
   * The current version redeployed with the user's values, not stopped; its services awaited; the
   * legacy database checked. Runs in a detached scope: a cancel that arrives meanwhile does not
   * stop it half-way.
   */
  private UpgradeReport putBackInService(String why, Outcome outcome, Phase endPhase) {
    compensationStarted = true;
    phase(
        Phase.COMPENSATING, why + "; putting OpsChain back in service on " + req.currentVersion());
    String[] scaledBack = new String[1];
    try {
      Workflow.newDetachedCancellationScope(
              () -> {
                removeUnfinishedRehearsal();
                scaledBack[0] = redeployCurrent();
                checkDatabaseBack();
              })
          .run();
    } catch (ActivityFailure e) {
      phase(Phase.FAILED, "could not put OpsChain back in service: " + Failures.describe(e));
      if (FailureTypes.DATABASE_NOT_IN_SERVICE.equals(Failures.type(e))) {
        throw ApplicationFailure.newNonRetryableFailureWithCause(
            Reasons.notBackInService(req, why, Failures.describe(e), backup, backupLocation()),
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
            + (backup == null ? "" : "; the backup is kept at " + backupLocation());
    return finish(
        outcome,
        endPhase,
        why + "; OpsChain is back in service on " + req.currentVersion() + backupNote);
  }

  /**
   * Deletes the rehearsal's pod when the rehearsal was started and never returned (cancelled or
   * failed); the activity deletes it itself otherwise. A failure here is logged, never in the way
   * of putting OpsChain back in service.
   */
  private void removeUnfinishedRehearsal() {
    if (!rehearsalStarted || rehearsal != null) {
      return;
    }
    try {
      acts.dataCheck("remove the rehearsal pod").removeRehearsalPod(rehearsalRequest());
    } catch (ActivityFailure e) {
      log.warn("could not remove the rehearsal pod: {}", Failures.describe(e));
    }
  }

  /**
   * The current version with the user's values, not stopped, and its services. Returns null, or,
   * when the host that runs Helm is gone (its worker took nothing within the host's
   * schedule-to-start), what was done instead: the cluster's workers scale the legacy database and
   * OpsChain's deployments back to their replicas at preflight, which needs no host.
   */
  private String redeployCurrent() {
    String note = null;
    try {
      deploy(PUT_BACK_IN_SERVICE, req.currentVersion(), List.of(req.valuesFile()), Map.of());
    } catch (ActivityFailure e) {
      if (Failures.notPickedUp(e) == null) {
        throw e;
      }
      note = scaleBackWithoutHost();
    }
    step(
        AWAIT_SERVICES_BACK,
        () ->
            acts.clusterWait("wait for OpsChain back in " + req.namespace())
                .awaitRolloutComplete(UpgradeActivities.waitFor(req, req.restartDeployments())),
        r -> r.summary());
    return note;
  }

  /**
   * The legacy database and the restarted deployments back at the replicas preflight found (1 when
   * preflight did not record them), by the cluster's workers.
   */
  private String scaleBackWithoutHost() {
    List<String> names = new ArrayList<>();
    names.add(req.dbDeployment());
    names.addAll(req.restartDeployments());
    Map<String, Integer> found = preflight.replicas();
    List<String> scaled = new ArrayList<>();
    for (String name : names) {
      scaled.add(name + " to " + Math.max(1, found.getOrDefault(name, 1)));
    }
    step(
        SCALE_BACK_WITHOUT_HOST,
        () -> {
          for (String name : names) {
            int replicas = Math.max(1, found.getOrDefault(name, 1));
            acts.cluster("scale " + req.namespace() + "/" + name + " to " + replicas)
                .scaleDeployment(
                    new ClusterActivities.ScaleRequest(req.namespace(), name, replicas, false));
          }
          return scaled;
        },
        r -> "scaled " + String.join(", ", r));
    return Reasons.scaledBackWithoutHost(req, host.host(), scaled);
  }

  /**
   * "Back in service" is checked: the legacy database answers and is the one preflight saw (its
   * system identifier). The OpsChain deployments were awaited just before.
   */
  private void checkDatabaseBack() {
    step(
        CHECK_DATABASE_BACK,
        () ->
            acts.clusterWait("check the legacy database in " + req.namespace())
                .checkDatabaseBack(
                    new ClusterActivities.DatabaseCheckRequest(
                        req.namespace(),
                        req.dbDeployment(),
                        req.dbUser(),
                        preflight.systemIdentifier(),
                        UpgradeActivities.DATABASE_CHECK.toSeconds())),
        r -> r.summary());
  }

  // ==== what a cancel does ====

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
        Reasons.stoppedAfterPointOfNoReturn(why, stateIfStoppedNow, backupLocation()));
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

  // ==== what a gate's answer means ====

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

  /**
   * Approved goes on; anything else stops here, after the point of no return, undoing nothing.
   * {@code blocked}: why approving is refused at this opening (null: it may be approved).
   */
  private void passOrStopHere(Gate gate, GateEvidence evidence, String state, String blocked) {
    stateIfStoppedNow = state;
    gates.blockNextOpening(blocked);
    Gates.Result result = gate(gate, evidence);
    if (result != Gates.Result.APPROVED) {
      throw new Ended(
          finish(
              Outcome.ABORTED,
              Phase.ABORTED,
              Reasons.stoppedAfterPointOfNoReturn(
                  gates.why(gate, result), state, backupLocation())));
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

  /**
   * Runs a step past the point of no return. When it fails, the run does not end: it stops at
   * RETRY_STEP, which says what failed and what state is left; approving runs the step again,
   * rejecting ends the run there.
   */
  private <T> T resultUntilDone(RunbookStep step, String state, Supplier<T> body) {
    while (true) {
      stateIfStoppedNow = step.id() + " did not finish; " + state;
      try {
        return FINISH_ON_CANCEL.contains(step) ? finishingOnCancel(body) : body.get();
      } catch (ActivityFailure | ChildWorkflowFailure e) {
        if (CancellationScope.current().isCancelRequested()) {
          throw e; // a cancel ends the run with the state left (cancelled)
        }
        String why = describeAfterPointOfNoReturn(e);
        log.warn("{} failed after the point of no return: {}", step.id(), why);
        passOrStopHere(
            Gate.RETRY_STEP,
            GateEvidences.retryStep(facts(), backup, step, why, state),
            step.id() + " failed; " + state,
            null);
      }
    }
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

  private static <T> T finishingOnCancel(Supplier<T> body) {
    List<T> result = new ArrayList<>(1);
    Workflow.newDetachedCancellationScope(() -> result.add(body.get())).run();
    return result.get(0);
  }

  /** The failure for a person; a host that never took its activity is named, with the way out. */
  private String describeAfterPointOfNoReturn(RuntimeException e) {
    String activity = Failures.notPickedUp(e);
    if (activity == null) {
      return Failures.describe(e);
    }
    return "HostGone: no worker of host "
        + host.host()
        + " took "
        + activity
        + " from its queue "
        + acts.hostQueue()
        + " within "
        + acts.hostStart().toSeconds()
        + " s. That host holds the backup ("
        + backupLocation()
        + "): start its worker again, then approve RETRY_STEP";
  }

  // ==== the end of a run, and the dry run ====

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
        backup,
        gates.log(),
        outcome == Outcome.PLANNED ? plannedChanges : List.of(),
        manualRestore);
  }

  /** The dry run: both values files computed but not written, and each step's planned change. */
  private UpgradeReport plan() {
    plannedChanges = RunbookStep.plan(facts());
    return finish(
        Outcome.PLANNED, Phase.PLANNED, "dry run: nothing was changed; the plan lists each step");
  }

  /** Ends the run early with a report (a gate not passed, or nothing to do). */
  private static final class Ended extends RuntimeException {
    private final transient UpgradeReport report;

    Ended(UpgradeReport report) {
      super(report.reason(), null, false, false);
      this.report = report;
    }
  }

  // ==== shared helpers ====

  /** Runs one step with its id and description from the table, recording it in the status. */
  private <T> T step(RunbookStep s, Supplier<T> body, Function<T, String> summary) {
    return steps.run(s.id(), s.describe(facts()), body, summary);
  }

  /** One Helm deploy of the release (the request, its summary and status line in one place). */
  private void deploy(
      RunbookStep s, String version, List<String> valuesFiles, Map<String, String> set) {
    var request = UpgradeActivities.helmUpgrade(req, s, version, valuesFiles, set);
    step(s, () -> acts.helm(request.summary()).upgrade(request), HelmActivities.HelmResult::line);
  }

  private ValuesActivities.ValuesResult values(RunbookStep s, ValuesActivities.ValuesRequest v) {
    return step(
        s,
        () ->
            acts.values(v.kind().name().toLowerCase() + " values from " + req.valuesFile())
                .prepareValues(v),
        r -> (v.dryRun() ? "would write " : "wrote ") + r.path());
  }

  private DataCheckActivities.CensusRequest census(
      Source where, String name, String label, String baseline) {
    return new DataCheckActivities.CensusRequest(
        req.namespace(), where, name, req.database(), req.dbUser(), hostDir, label, baseline);
  }

  /** The rehearsal's pod, sized for the uploads, the restored database with its WAL, and a log. */
  private DataCheckActivities.RehearsalRequest rehearsalRequest() {
    List<BackupFile> files = backup == null ? List.of() : backup.files();
    long archives = files.stream().mapToLong(b -> b.hostBytes() == null ? 0 : b.hostBytes()).sum();
    long db = preflight == null ? 0 : preflight.dbSizeBytes();
    long scratch = archives + db + (archives + db) / 4 + (256L << 20);
    return new DataCheckActivities.RehearsalRequest(
        req.namespace(),
        RunbookStep.rehearsalPod(req),
        req.restoreImage(),
        req.dataOwner(),
        req.dbUser(),
        req.database(),
        hostDir,
        files,
        scratch,
        REHEARSAL_TIMEOUT_SECONDS);
  }

  private void requireVerifiedBackup(String before) {
    if (backup == null || !backup.passesVerification()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "refusing to run " + before + " without a verified backup", FailureTypes.BACKUP_INVALID);
    }
  }

  /** What the step texts and the gates may name: the request and what the run has learnt. */
  private RunbookStep.Facts facts() {
    return new RunbookStep.Facts(
        req,
        host == null ? null : host.host(),
        hostDir,
        migrationValues == null ? null : migrationValues.diff(),
        finalValues == null ? null : finalValues.diff());
  }

  /** host:dir of the backup on the worker host that holds it. */
  private String backupLocation() {
    return (host == null ? null : host.host()) + ":" + hostDir;
  }

  private void phase(Phase p, String msg) {
    if (searchAttributes && p != phase) {
      Workflow.upsertTypedSearchAttributes(UPGRADE_PHASE.valueSet(p.name()));
    }
    phase = p;
    message = msg;
    refreshDetails();
  }

  /** The Web UI's Current Details (GateEvidences.currentDetails). */
  private void refreshDetails() {
    Workflow.setCurrentDetails(
        GateEvidences.currentDetails(
            phase, message, gates.open(), req == null ? null : req.namespace(), workflowId));
  }

  // ==== handlers ====

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
        backup,
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
