package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.OpsChainVersion;
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
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;

/**
 * {@link DbUpgradeWorkflow}: {@link #run} reads like the runbook, one call per step. Before the
 * BACKUP_VERIFIED gate is approved nothing destructive has happened, and any abort, rejection,
 * timeout or failure puts OpsChain back in service on the current version. After it, the workflow
 * never undoes anything blindly: it stops at the next gate and says what state is left.
 */
public class DbUpgradeWorkflowImpl implements DbUpgradeWorkflow {

  private static final Logger log = Workflow.getLogger(DbUpgradeWorkflowImpl.class);

  private final Steps steps = new Steps();
  private final Gates gates = new Gates();
  private UpgradeRequest req;
  private UpgradeActivities acts;
  private String workflowId;
  private String hostDir;

  /** The change id of the rule that podBackupDir and pgdata must not overlap. */
  static final String PATH_OVERLAP_CHANGE = "path-overlap";

  /** The change id of the run-scoped host dir ({@code Workflow.getVersion}). */
  static final String RUN_SCOPED_CHANGE = "run-scoped-host-dir";

  /** The change id of the database check after a compensation. */
  static final String CHECKED_COMPENSATION_CHANGE = "checked-compensation";

  /** The change id of the search attributes ({@code Workflow.getVersion}). */
  static final String SEARCH_ATTRIBUTES_CHANGE = "search-attributes";

  /**
   * Keyword search attributes; register them on the server (see the README) to filter upgrades in
   * the UI.
   */
  public static final SearchAttributeKey<String> OPSCHAIN_NAMESPACE =
      SearchAttributeKey.forKeyword("OpsChainNamespace");

  public static final SearchAttributeKey<String> UPGRADE_PHASE =
      SearchAttributeKey.forKeyword("UpgradePhase");

  private String host;
  private boolean searchAttributes;
  private Phase phase = Phase.VALIDATING;
  private String message = "checking the request";
  private Progress progress;
  private BackupEvidence backup;
  private String migrationValues;
  private String finalValues;
  private String migrationDiff;
  private String finalDiff;
  private boolean pointOfNoReturnPassed;
  private boolean manualRestore;
  private CancellationScope reversibleScope;

  @Override
  public UpgradeReport run(UpgradeRequest request) {
    workflowId = Workflow.getInfo().getWorkflowId();
    req =
        UpgradeRequests.validate(
            request,
            workflowId,
            Workflow.getVersion(PATH_OVERLAP_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1);
    gates.configure(
        req.approvers(), UpgradeRequests.parseDuration(req.gateTimeout()), req.gatesSkipped());
    // Version 1: the host dir, like every marker, carries the run id, so a later run of the same
    // namespace never reuses or overwrites an earlier run's backup.
    hostDir =
        Workflow.getVersion(RUN_SCOPED_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1
            ? req.hostBackupDir() + "/" + workflowId + "/" + Workflow.getInfo().getRunId()
            : req.hostBackupDir() + "/" + workflowId;
    planSteps();

    acts = new UpgradeActivities(claimHost(), UpgradeRequests.parseDuration(req.importTimeout()));
    HelmActivities.ReleaseInfo release = preflight();
    String notNeeded = notNeededReason(release);
    if (notNeeded != null) {
      return finish(Outcome.SKIPPED, Phase.SKIPPED, notNeeded);
    }
    checkDeployedVersion(release);
    checkFreeSpace();
    if (req.dryRunRequested()) {
      return plan();
    }

    Gates.Result start = gate(Gate.START, startEvidence(release));
    if (start != Gates.Result.APPROVED) {
      return finish(
          Outcome.ABORTED, Phase.ABORTED, gates.why(Gate.START, start) + "; nothing was changed");
    }

    reversibleScope =
        Workflow.newCancellationScope(() -> {
          stopOpsChain();
          scaleDbUp();
          takeBackup();
          copyBackupOut();
          prepareMigrationValues();
        });
    if (gates.abortRequest() != null) {
      reversibleScope.cancel("aborted before the first step");
    }
    try {
      reversibleScope.run();
    } catch (ActivityFailure | CanceledFailure | ApplicationFailure e) {
      return putBackInService(e);
    } finally {
      reversibleScope = null;
    }

    Gates.Result verified = gate(Gate.BACKUP_VERIFIED, backupEvidence());
    if (verified != Gates.Result.APPROVED) {
      return putBackInService(gates.why(Gate.BACKUP_VERIFIED, verified));
    }

    requireVerifiedBackup("upgradeRelease");
    pointOfNoReturnPassed = true;
    upgradeRelease();
    String importFailure = awaitImport();
    if (importFailure != null) {
      Gates.Result restore = gate(Gate.MANUAL_RESTORE, manualRestoreEvidence(importFailure));
      if (restore != Gates.Result.APPROVED) {
        return stopAfterPointOfNoReturn(
            Gate.MANUAL_RESTORE,
            restore,
            "the import failed (" + importFailure + ") and the manual restore was not run");
      }
      restoreManually();
    }
    restartServices();

    Gates.Result services = gate(Gate.SERVICES_VERIFIED, servicesEvidence());
    if (services != Gates.Result.APPROVED) {
      return stopAfterPointOfNoReturn(
          Gate.SERVICES_VERIFIED,
          services,
          "OpsChain runs the new version on CNPG with recoveryMode");
    }
    prepareFinalValues();
    Gates.Result fin = gate(Gate.FINALIZE, finalizeEvidence());
    if (fin != Gates.Result.APPROVED) {
      return stopAfterPointOfNoReturn(
          Gate.FINALIZE, fin, "OpsChain runs the new version; the legacy db deployment is kept");
    }
    requireVerifiedBackup("finalizeUpgrade");
    finalizeUpgrade();
    return finish(
        Outcome.COMPLETED,
        Phase.COMPLETED,
        "OpsChain runs " + req.targetVersion() + " on CNPG; the legacy database is removed");
  }

  // ---- the runbook's steps, in order ----

  private String claimHost() {
    HostActivities.HostQueue q =
        steps.run(
            "claimHost",
            "pick the worker host that will hold the backup",
            () ->
                acts()
                    .host("claim a worker host for " + req.namespace())
                    .claimHost(new HostActivities.ClaimRequest(req.namespace())),
            r -> "host " + r.host() + ", task queue " + r.taskQueue());
    host = q.host();
    if (req.approvers().isEmpty() && !q.defaultApprovers().isEmpty()) {
      // The request names no approvers: the worker's configured defaults apply.
      gates.useApprovers(q.defaultApprovers());
    }
    // Version 1 adds the search attributes (an extra command per phase change). Histories from
    // before it replay on DEFAULT_VERSION, without them.
    int version = Workflow.getVersion(SEARCH_ATTRIBUTES_CHANGE, Workflow.DEFAULT_VERSION, 1);
    searchAttributes = version >= 1 && q.searchAttributes();
    if (searchAttributes) {
      Workflow.upsertTypedSearchAttributes(
          OPSCHAIN_NAMESPACE.valueSet(req.namespace()), UPGRADE_PHASE.valueSet(phase.name()));
    }
    return q.taskQueue();
  }

  private HelmActivities.ReleaseInfo preflight() {
    phase(Phase.PREFLIGHT, "read-only checks");
    HelmActivities.ReleaseInfo release =
        steps.run(
            "releaseStatus",
            "read the Helm release",
            () ->
                acts.helm("helm status " + req.namespace() + "/" + req.release())
                    .releaseStatus(
                        new HelmActivities.ReleaseRequest(req.namespace(), req.release())),
            r ->
                r.exists()
                    ? "revision "
                        + r.revision()
                        + " "
                        + r.status()
                        + ", version "
                        + r.chartVersion()
                    : "release not found");
    if (!release.exists()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Helm release " + req.release() + " not found in namespace " + req.namespace(),
          FailureTypes.PREFLIGHT_FAILED);
    }
    preflight =
        steps.run(
            "preflight",
            "namespace, CRD, operator, permissions and database size (read-only)",
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
                "legacy db "
                    + (r.legacyDbPresent() ? "present" : "absent")
                    + ", CNPG "
                    + (r.cnpgServing() ? "serving" : "not serving")
                    + ", database "
                    + r.dbSizeBytes()
                    + " bytes");
    return release;
  }

  private ClusterActivities.PreflightResult preflight;

  private String notNeededReason(HelmActivities.ReleaseInfo release) {
    if (OpsChainVersion.isValid(release.chartVersion())
        && OpsChainVersion.parse(release.chartVersion()).isCnpgRelease()) {
      return "not needed: release "
          + req.release()
          + " is at "
          + release.chartVersion()
          + ", on or after "
          + OpsChainVersion.CNPG_FIRST_RELEASE;
    }
    if (preflight.cnpgServing() && !preflight.legacyDbPresent()) {
      return "not needed: CNPG cluster "
          + req.clusterName()
          + " already serves and no legacy "
          + req.dbDeployment()
          + " deployment exists";
    }
    return null;
  }

  /** The stop step redeploys currentVersion: it must be what runs, or it would change versions. */
  private void checkDeployedVersion(HelmActivities.ReleaseInfo release) {
    if (!req.currentVersion().equals(release.chartVersion())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "currentVersion is "
              + req.currentVersion()
              + " but release "
              + req.release()
              + " runs "
              + release.chartVersion()
              + "; set currentVersion to the deployed version",
          FailureTypes.PREFLIGHT_FAILED);
    }
    if (!preflight.legacyDbPresent()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "no " + req.dbDeployment() + " deployment in " + req.namespace() + ": nothing to back up",
          FailureTypes.PREFLIGHT_FAILED);
    }
  }

  private void checkFreeSpace() {
    steps.run(
        "checkFreeSpace",
        "room for the backup under " + req.hostBackupDir(),
        () ->
            acts.backup("free space under " + hostDir)
                .checkFreeSpace(
                    new BackupActivities.SpaceRequest(hostDir, preflight.dbSizeBytes())),
        ChangeResult::summary);
  }

  private void stopOpsChain() {
    phase(Phase.STOPPING, "stopping OpsChain for the downtime");
    helmUpgrade(
        "stopOpsChain",
        "helm upgrade " + req.currentVersion() + " --set stopped=true",
        req.currentVersion(),
        List.of(req.valuesFile()),
        Map.of("stopped", "true"));
    steps.run(
        "awaitStopped",
        "wait until all deployments and statefulsets are stopped",
        () ->
            acts.clusterWait("wait for OpsChain to stop in " + req.namespace())
                .awaitWorkloadsStopped(
                    new WaitRequest(req.namespace(), List.of(), UpgradeActivities.waitSeconds())),
        r -> r.summary());
  }

  private void scaleDbUp() {
    steps.run(
        "scaleDbUp",
        "kubectl scale deployment/" + req.dbDeployment() + " --replicas=1",
        () ->
            acts.cluster("scale " + req.namespace() + "/" + req.dbDeployment() + " to 1")
                .scaleDeployment(
                    new ClusterActivities.ScaleRequest(
                        req.namespace(), req.dbDeployment(), 1, false)),
        ChangeResult::summary);
    steps.run(
        "awaitDbReady",
        "wait until " + req.dbDeployment() + " is ready",
        () ->
            acts.clusterWait("wait for " + req.namespace() + "/" + req.dbDeployment() + " ready")
                .awaitDeploymentReady(
                    new WaitRequest(
                        req.namespace(),
                        List.of(req.dbDeployment()),
                        UpgradeActivities.waitSeconds())),
        r -> r.summary());
  }

  private BackupActivities.PodBackup podBackup;

  private void takeBackup() {
    phase(Phase.BACKING_UP, "pg_basebackup in the db pod");
    podBackup =
        steps.run(
            "takeBackup",
            "pg_basebackup -Ft -z --wal-method=stream into " + req.podBackupDir(),
            () ->
                acts.backup("pg_basebackup in " + req.namespace() + "/" + req.dbDeployment())
                    .takeBackup(
                        new BackupActivities.BackupRequest(
                            req.namespace(),
                            req.dbDeployment(),
                            req.podBackupDir(),
                            req.maxRate(),
                            req.dbUser(),
                            workflowId)),
            r ->
                (r.reused() ? "reused " : "took ") + r.files().size() + " files in pod " + r.pod());
  }

  private void copyBackupOut() {
    phase(Phase.BACKING_UP, "copying the backup to " + hostDir);
    BackupEvidence copied =
        steps.run(
            "copyBackupOut",
            "stream the backup to " + hostDir + " with SHA-256 on both ends",
            () ->
                acts.backup("copy backup from " + podBackup.pod() + " to " + host + ":" + hostDir)
                    .copyBackupOut(
                        new BackupActivities.CopyRequest(
                            req.namespace(), podBackup.pod(), podBackup.podDir(), hostDir)),
            r -> r.files().size() + " files copied to " + r.hostDir());
    backup =
        steps.run(
            "verifyBackup",
            "sizes, SHA-256, gzip -t, tar listing, PG_VERSION and backup_label",
            () ->
                acts.backup("verify backup in " + host + ":" + hostDir)
                    .verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files())),
            r -> r.verified() ? "verified: " + String.join(", ", r.checks()) : "NOT verified");
    requireVerifiedBackup("the BACKUP_VERIFIED gate");
  }

  private void prepareMigrationValues() {
    ValuesActivities.ValuesResult v =
        values("prepareMigrationValues", ValuesActivities.Kind.MIGRATION, false);
    migrationValues = v.path();
    migrationDiff = v.diff();
  }

  private void upgradeRelease() {
    phase(Phase.UPGRADING, "deploying " + req.targetVersion() + " with db.recoveryMode");
    helmUpgrade(
        "upgradeRelease",
        "helm upgrade " + req.targetVersion() + " with the migration values",
        req.targetVersion(),
        List.of(migrationValues),
        Map.of());
  }

  /** Returns null when the import succeeded, else why it failed (the fallback is offered). */
  private String awaitImport() {
    phase(Phase.IMPORTING, "CNPG imports the legacy database");
    try {
      steps.run(
          "awaitImport",
          "wait for CNPG cluster " + req.clusterName() + " healthy and the import pod done",
          () ->
              acts.cnpgWait("watch the CNPG import of " + req.namespace() + "/" + req.clusterName())
                  .awaitImport(
                      new CnpgActivities.ImportRequest(
                          req.namespace(), req.clusterName(), acts.importSeconds())),
          r -> r.phase() + ", " + r.readyInstances() + "/" + r.instances() + " ready");
      return null;
    } catch (ActivityFailure e) {
      log.warn("import failed: {}", Failures.describe(e));
      return Failures.describe(e);
    }
  }

  private void restoreManually() {
    phase(Phase.MANUAL_RESTORE, "restoring the backup into the CNPG cluster by hand");
    requireVerifiedBackup("the manual restore");
    manualRestore = true;
    ManualRestoreWorkflow child =
        Workflow.newChildWorkflowStub(
            ManualRestoreWorkflow.class,
            ChildWorkflowOptions.newBuilder()
                .setWorkflowId(workflowId + "-manual-restore")
                .build());
    try {
      steps.run(
          "manualRestore",
          "the runbook's manual database migration (child workflow)",
          () ->
              child.restore(
                  new ManualRestoreWorkflow.ManualRestoreRequest(
                      req, acts.hostQueue(), hostDir, backup)),
          r -> "restored; pg_controldata: " + r.controlData());
    } catch (ChildWorkflowFailure e) {
      phase(Phase.FAILED, "manual restore failed: " + Failures.describe(e));
      steps.skipRemaining("not run: the manual restore failed");
      throw ApplicationFailure.newNonRetryableFailureWithCause(
          "Manual restore failed ("
              + Failures.describe(e)
              + "). The backup is kept at "
              + host
              + ":"
              + hostDir
              + "; the restore pod is left for inspection.",
          FailureTypes.MANUAL_RESTORE_FAILED,
          e);
    }
  }

  private void restartServices() {
    phase(Phase.RESTARTING, "restarting OpsChain services");
    String restartedAt = Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString();
    steps.run(
        "restartServices",
        "kubectl rollout restart deployment " + String.join(" ", req.restartDeployments()),
        () ->
            acts.cluster("rollout restart in " + req.namespace())
                .rolloutRestart(
                    new ClusterActivities.RestartRequest(
                        req.namespace(), req.restartDeployments(), restartedAt, false)),
        ChangeResult::summary);
    steps.run(
        "awaitRollout",
        "wait until the restarted deployments are available",
        () ->
            acts.clusterWait("wait for rollouts in " + req.namespace())
                .awaitRolloutComplete(
                    new WaitRequest(
                        req.namespace(),
                        req.restartDeployments(),
                        UpgradeActivities.waitSeconds())),
        r -> r.summary());
  }

  private void prepareFinalValues() {
    ValuesActivities.ValuesResult v =
        values("prepareFinalValues", ValuesActivities.Kind.FINAL, false);
    finalValues = v.path();
    finalDiff = v.diff();
  }

  private void finalizeUpgrade() {
    phase(Phase.FINALIZING, "deploying without db.recoveryMode and db.volume");
    helmUpgrade(
        "finalizeUpgrade",
        "helm upgrade " + req.targetVersion() + " with the final values",
        req.targetVersion(),
        List.of(finalValues),
        Map.of());
    steps.run(
        "awaitLegacyDbGone",
        "wait until the legacy " + req.dbDeployment() + " deployment is gone",
        () ->
            acts.clusterWait("wait for " + req.namespace() + "/" + req.dbDeployment() + " removal")
                .awaitDeploymentGone(
                    new WaitRequest(
                        req.namespace(),
                        List.of(req.dbDeployment()),
                        UpgradeActivities.waitSeconds())),
        r -> r.summary());
  }

  // ---- ending: compensation before the point of no return, a stop after it ----

  private UpgradeReport putBackInService(RuntimeException cause) {
    if (gates.abortRequest() != null && Failures.isCancellation(cause)) {
      return putBackInService(gates.why(null, Gates.Result.ABORTED));
    }
    log.warn("step failed before the point of no return: {}", Failures.describe(cause));
    UpgradeReport report = putBackInService("failed: " + Failures.describe(cause));
    String type = Failures.type(cause);
    throw ApplicationFailure.newNonRetryableFailureWithCause(
        report.reason(), type.equals("Canceled") ? "StepFailed" : type, cause);
  }

  /** Redeploys the current version, not stopped, and waits for the services. */
  private UpgradeReport putBackInService(String why) {
    phase(
        Phase.COMPENSATING, why + "; putting OpsChain back in service on " + req.currentVersion());
    try {
      helmUpgrade(
          "putBackInService",
          "helm upgrade " + req.currentVersion() + " with the user's values, not stopped",
          req.currentVersion(),
          List.of(req.valuesFile()),
          Map.of());
      steps.run(
          "awaitServicesBack",
          "wait until OpsChain's deployments are available again",
          () ->
              acts.clusterWait("wait for OpsChain back in " + req.namespace())
                  .awaitRolloutComplete(
                      new WaitRequest(
                          req.namespace(),
                          req.restartDeployments(),
                          UpgradeActivities.waitSeconds())),
          r -> r.summary());
      if (Workflow.getVersion(CHECKED_COMPENSATION_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1) {
        checkDatabaseBack();
      }
    } catch (ActivityFailure e) {
      phase(Phase.FAILED, "could not put OpsChain back in service: " + Failures.describe(e));
      if (FailureTypes.DATABASE_NOT_IN_SERVICE.equals(Failures.type(e))) {
        throw ApplicationFailure.newNonRetryableFailureWithCause(
            why
                + "; OpsChain was redeployed on "
                + req.currentVersion()
                + " but it is NOT back in service: "
                + Failures.describe(e)
                + ". "
                + (backup != null && backup.passesVerification()
                    ? "The verified backup is at " + host + ":" + hostDir
                    : "No verified backup was taken by this run")
                + "; check the database before anyone uses OpsChain.",
            FailureTypes.DATABASE_NOT_IN_SERVICE,
            e);
      }
      throw ApplicationFailure.newNonRetryableFailureWithCause(
          why
              + "; putting OpsChain back in service on "
              + req.currentVersion()
              + " failed: "
              + Failures.describe(e)
              + ". Redeploy it by hand: helm upgrade "
              + req.release()
              + " --version "
              + req.currentVersion()
              + " -f "
              + req.valuesFile(),
          FailureTypes.COMPENSATION_FAILED,
          e);
    }
    String backupNote = backup == null ? "" : "; the backup is kept at " + host + ":" + hostDir;
    return finish(
        Outcome.ABORTED,
        Phase.ABORTED,
        why + "; OpsChain is back in service on " + req.currentVersion() + backupNote);
  }

  /**
   * "Back in service" is checked: the legacy database answers and is the one preflight saw (its
   * system identifier). The OpsChain deployments were awaited just before.
   */
  private void checkDatabaseBack() {
    steps.run(
        "checkDatabaseBack",
        "the legacy database answers and is the one preflight recorded",
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

  private UpgradeReport stopAfterPointOfNoReturn(Gate gate, Gates.Result result, String state) {
    return finish(
        Outcome.ABORTED,
        Phase.ABORTED,
        gates.why(gate, result)
            + " after the new version was deployed, so nothing was undone. State: "
            + state
            + ". The backup is kept at "
            + host
            + ":"
            + hostDir
            + ". Start a new workflow or follow the runbook to go on.");
  }

  private UpgradeReport finish(Outcome outcome, Phase endPhase, String reason) {
    phase(endPhase, reason);
    steps.skipRemaining("not run: " + outcome);
    Workflow.await(Workflow::isEveryHandlerFinished);
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

  // ---- dry run ----

  private List<PlannedChange> plannedChanges = List.of();

  private UpgradeReport plan() {
    ValuesActivities.ValuesResult migration =
        values("prepareMigrationValues", ValuesActivities.Kind.MIGRATION, true);
    ValuesActivities.ValuesResult fin =
        values("prepareFinalValues", ValuesActivities.Kind.FINAL, true);
    String ns = req.namespace();
    List<PlannedChange> p = new ArrayList<>();
    p.add(new PlannedChange("gate START", "wait for approval; the downtime begins", false));
    p.add(
        new PlannedChange(
            "stopOpsChain",
            "helm upgrade "
                + req.release()
                + " --version "
                + req.currentVersion()
                + " --set stopped=true; wait for all deployments and statefulsets in "
                + ns
                + " to stop",
            false));
    p.add(
        new PlannedChange(
            "scaleDbUp",
            "kubectl scale deployment/" + req.dbDeployment() + " --replicas=1",
            false));
    p.add(
        new PlannedChange(
            "takeBackup",
            "pg_basebackup -D "
                + req.podBackupDir()
                + " -Ft -z --max-rate="
                + req.maxRate()
                + " in the db pod",
            false));
    p.add(
        new PlannedChange(
            "copyBackupOut",
            "copy base.tar.gz, pg_wal.tar.gz, backup_manifest to "
                + host
                + ":"
                + hostDir
                + " and verify them",
            false));
    p.add(
        new PlannedChange(
            "prepareMigrationValues", "write values.migration.yaml:\n" + migration.diff(), false));
    p.add(
        new PlannedChange(
            "gate BACKUP_VERIFIED", "wait for approval of the verified backup", false));
    p.add(
        new PlannedChange(
            "upgradeRelease",
            "helm upgrade "
                + req.release()
                + " --version "
                + req.targetVersion()
                + " with the migration values (point of no return)",
            true));
    p.add(
        new PlannedChange(
            "awaitImport",
            "wait up to "
                + req.importTimeout()
                + " for CNPG cluster "
                + req.clusterName()
                + "; on failure offer MANUAL_RESTORE",
            false));
    p.add(
        new PlannedChange(
            "restartServices",
            "kubectl rollout restart deployment " + String.join(" ", req.restartDeployments()),
            false));
    p.add(
        new PlannedChange(
            "gate SERVICES_VERIFIED", "wait for a person to check OpsChain works", false));
    p.add(
        new PlannedChange("prepareFinalValues", "write values.final.yaml:\n" + fin.diff(), false));
    p.add(
        new PlannedChange(
            "gate FINALIZE", "wait for approval to remove the legacy database", false));
    p.add(
        new PlannedChange(
            "finalizeUpgrade",
            "helm upgrade "
                + req.release()
                + " --version "
                + req.targetVersion()
                + " with the final values; the legacy "
                + req.dbDeployment()
                + " deployment is deleted",
            true));
    plannedChanges = List.copyOf(p);
    return finish(
        Outcome.PLANNED, Phase.PLANNED, "dry run: nothing was changed; the plan lists each step");
  }

  // ---- shared helpers ----

  private Gates.Result gate(Gate gate, GateEvidence evidence) {
    String name = "gate " + gate.name();
    Phase before = phase;
    phase(Phase.AWAITING_APPROVAL, "waiting at gate " + gate + ": " + gate.question());
    steps.start(name, gate.question());
    Gates.Result result = gates.await(gate, evidence);
    steps.end(
        name,
        result == Gates.Result.APPROVED ? StepState.DONE : StepState.FAILED,
        gates.why(gate, result));
    phase(before, "passed gate " + gate);
    return result;
  }

  private void helmUpgrade(
      String step,
      String description,
      String version,
      List<String> valuesFiles,
      Map<String, String> set) {
    steps.run(
        step,
        description,
        () ->
            acts.helm(
                    "helm upgrade "
                        + req.namespace()
                        + "/"
                        + req.release()
                        + " "
                        + version
                        + " ("
                        + step
                        + ")")
                .upgrade(
                    new HelmActivities.UpgradeRequest(
                        req.namespace(),
                        req.release(),
                        req.chart(),
                        version,
                        valuesFiles,
                        set,
                        step,
                        UpgradeActivities.HELM_DEPLOY.minusMinutes(5).toSeconds(),
                        false)),
        r ->
            "revision " + r.revision() + " " + r.status() + (r.changed() ? "" : " (already done)"));
  }

  private ValuesActivities.ValuesResult values(
      String step, ValuesActivities.Kind kind, boolean dryRun) {
    return steps.run(
        step,
        "write values." + kind.name().toLowerCase() + ".yaml from " + req.valuesFile(),
        () ->
            acts.values(kind.name().toLowerCase() + " values from " + req.valuesFile())
                .prepareValues(
                    new ValuesActivities.ValuesRequest(req.valuesFile(), hostDir, kind, dryRun)),
        r -> (dryRun ? "would write " : "wrote ") + r.path());
  }

  private void requireVerifiedBackup(String before) {
    if (backup == null || !backup.passesVerification()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "refusing to run " + before + " without a verified backup", FailureTypes.BACKUP_INVALID);
    }
  }

  private void phase(Phase p, String msg) {
    if (searchAttributes && p != phase) {
      Workflow.upsertTypedSearchAttributes(UPGRADE_PHASE.valueSet(p.name()));
    }
    phase = p;
    message = msg;
    var open = gates.open();
    Workflow.setCurrentDetails(
        "**" + p + "** " + msg + (open == null ? "" : "\n\nOpen gate: **" + open.gate() + "**"));
  }

  private UpgradeActivities acts() {
    return acts == null
        ? new UpgradeActivities(null, UpgradeRequests.parseDuration(req.importTimeout()))
        : acts;
  }

  private void planSteps() {
    steps.plan("claimHost", "pick the worker host that will hold the backup");
    steps.plan("releaseStatus", "read the Helm release");
    steps.plan("preflight", "namespace, CRD, operator, permissions and database size (read-only)");
    steps.plan("checkFreeSpace", "room for the backup under " + req.hostBackupDir());
    steps.plan("gate START", Gate.START.question());
    steps.plan("stopOpsChain", "helm upgrade " + req.currentVersion() + " --set stopped=true");
    steps.plan("awaitStopped", "wait until all deployments and statefulsets are stopped");
    steps.plan("scaleDbUp", "kubectl scale deployment/" + req.dbDeployment() + " --replicas=1");
    steps.plan("awaitDbReady", "wait until " + req.dbDeployment() + " is ready");
    steps.plan("takeBackup", "pg_basebackup in the db pod");
    steps.plan("copyBackupOut", "stream the backup to " + hostDir);
    steps.plan("verifyBackup", "sizes, SHA-256, gzip -t, tar listing");
    steps.plan("prepareMigrationValues", "write values.migration.yaml");
    steps.plan("gate BACKUP_VERIFIED", Gate.BACKUP_VERIFIED.question());
    steps.plan(
        "upgradeRelease", "helm upgrade " + req.targetVersion() + " with the migration values");
    steps.plan("awaitImport", "wait for the CNPG import");
    steps.plan(
        "restartServices",
        "kubectl rollout restart deployment " + String.join(" ", req.restartDeployments()));
    steps.plan("awaitRollout", "wait until the restarted deployments are available");
    steps.plan("gate SERVICES_VERIFIED", Gate.SERVICES_VERIFIED.question());
    steps.plan("prepareFinalValues", "write values.final.yaml");
    steps.plan("gate FINALIZE", Gate.FINALIZE.question());
    steps.plan("finalizeUpgrade", "helm upgrade " + req.targetVersion() + " with the final values");
    steps.plan(
        "awaitLegacyDbGone", "wait until the legacy " + req.dbDeployment() + " deployment is gone");
  }

  // ---- evidence shown at the gates ----

  private GateEvidence startEvidence(HelmActivities.ReleaseInfo release) {
    List<String> details = new ArrayList<>(preflight.checks());
    details.add(
        "release "
            + req.release()
            + " revision "
            + release.revision()
            + " at "
            + release.chartVersion());
    details.add(
        "database size "
            + preflight.dbSizeBytes()
            + " bytes; backup goes to "
            + host
            + ":"
            + hostDir);
    return new GateEvidence(
        "Preflight passed. Approving stops OpsChain in " + req.namespace() + " (downtime begins).",
        details,
        null,
        null);
  }

  private GateEvidence backupEvidence() {
    return new GateEvidence(
        "Backup verified on "
            + host
            + ":"
            + hostDir
            + ". Approving deploys "
            + req.targetVersion()
            + " with db.recoveryMode (after this, abort no longer undoes).",
        backup.checks(),
        backup,
        migrationDiff);
  }

  private GateEvidence manualRestoreEvidence(String failure) {
    return new GateEvidence(
        "The automatic import failed: "
            + failure
            + ". Approving deletes CNPG cluster "
            + req.clusterName()
            + " and restores it from the verified backup.",
        List.of("backup: " + host + ":" + hostDir, "hibernation by " + req.hibernateBy()),
        backup,
        null);
  }

  private GateEvidence servicesEvidence() {
    return new GateEvidence(
        "OpsChain "
            + req.targetVersion()
            + " was restarted on CNPG. Check it works: create a change or edit a project's properties.",
        List.of("restarted: " + String.join(", ", req.restartDeployments())),
        backup,
        null);
  }

  private GateEvidence finalizeEvidence() {
    return new GateEvidence(
        "Approving redeploys without db.recoveryMode and db.volume; the legacy "
            + req.dbDeployment()
            + " deployment is then deleted.",
        List.of("final values: " + finalValues),
        backup,
        finalDiff);
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
    gates.decide(decision, true, "update");
    return status();
  }

  @Override
  public void validateApproveGate(GateDecision decision) {
    String refusal = gates.refusal(decision);
    if (refusal != null) {
      throw new IllegalArgumentException(refusal);
    }
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
