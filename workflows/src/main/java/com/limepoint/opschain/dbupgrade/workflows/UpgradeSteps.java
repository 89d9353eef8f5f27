package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.RunbookStep.*;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.PlannedChange;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.Workflow;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * The steps of {@link DbUpgradeWorkflowImpl}, one method per runbook step with the name the runbook
 * gives it: which activity it calls, with what request, and the one line the status shows for its
 * result. Ids and descriptions come from {@link RunbookStep}; what the steps learn (the host, the
 * backup, the values files) is kept here for the steps after them. Workflow code: it runs inside
 * the workflow and uses {@code Workflow.*} only.
 */
final class UpgradeSteps {
  private static final Logger log = Workflow.getLogger(UpgradeSteps.class);

  private final Steps steps;
  private final BiConsumer<Phase, String> phase;
  private UpgradeRequest req;
  private String workflowId;
  private String hostDir;
  private BackupActivities.BackupRequest backupRequest;
  private UpgradeActivities acts;
  private String host;
  private ClusterActivities.PreflightResult preflight;
  private BackupActivities.PodBackup podBackup;
  private BackupEvidence backup;
  private String migrationValues;
  private String migrationDiff;
  private String finalValues;
  private String finalDiff;
  private String stateIfStoppedNow = "the new version was deployed";

  UpgradeSteps(Steps steps, BiConsumer<Phase, String> phase) {
    this.steps = steps;
    this.phase = phase;
  }

  /** The validated request and where its backup goes; the steps ahead are listed in the status. */
  void begin(UpgradeRequest req, String workflowId, String hostDir) {
    this.req = req;
    this.workflowId = workflowId;
    this.hostDir = hostDir;
    this.acts = new UpgradeActivities(null, UpgradeRequests.parseDuration(req.importTimeout()));
    for (RunbookStep s : RunbookStep.of(RunbookStep.Path.UPGRADE)) {
      steps.plan(s.id(), s.describe(facts()));
    }
  }

  HostActivities.HostQueue claimHost() {
    HostActivities.HostQueue q =
        step(
            CLAIM_HOST,
            () ->
                acts.host("claim a worker host for " + req.namespace())
                    .claimHost(new HostActivities.ClaimRequest(req.namespace())),
            r -> "host %s, queue %s, cluster %s".formatted(r.host(), r.taskQueue(), r.cluster()));
    host = q.host();
    acts =
        new UpgradeActivities(
                q.taskQueue(), q.clusterQueue(), UpgradeRequests.parseDuration(req.importTimeout()))
            .withHostStart(q.hostStartSeconds());
    return q;
  }

  HelmActivities.ReleaseInfo preflight() {
    phase.accept(Phase.PREFLIGHT, "read-only checks");
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
    return release;
  }

  void checkFreeSpace() {
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
  void checkValues() {
    long dbSize = preflight.dbSizeBytes();
    migrationDiff = values(CHECK_MIGRATION_VALUES, ValuesActivities.Kind.MIGRATION, dbSize).diff();
    finalDiff = values(CHECK_FINAL_VALUES, ValuesActivities.Kind.FINAL, 0).diff();
  }

  void stopOpsChain() {
    phase.accept(Phase.STOPPING, "stopping OpsChain for the downtime");
    helmUpgrade(
        STOP_OPSCHAIN, req.currentVersion(), List.of(req.valuesFile()), Map.of("stopped", "true"));
    step(
        AWAIT_STOPPED,
        () ->
            acts.clusterWait("wait for OpsChain to stop in " + req.namespace())
                .awaitWorkloadsStopped(UpgradeActivities.waitForRelease(req)),
        r -> r.summary());
  }

  void scaleDbUp() {
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

  void takeBackup() {
    phase.accept(Phase.BACKING_UP, "pg_basebackup in the db pod");
    podBackup =
        step(
            TAKE_BACKUP,
            () ->
                acts.backup("pg_basebackup in " + req.namespace() + "/" + req.dbDeployment())
                    .takeBackup(backupRequest = backupRequest()),
            r -> StepTexts.tookBackup(req, r));
  }

  void copyBackupOut() {
    phase.accept(Phase.BACKING_UP, "copying the backup to " + hostDir);
    BackupEvidence copied =
        step(
            COPY_BACKUP_OUT,
            () ->
                acts.backup("copy backup from " + podBackup.pod() + " to " + host + ":" + hostDir)
                    .copyBackupOut(
                        new BackupActivities.CopyRequest(
                            req.namespace(),
                            podBackup.pod(),
                            podBackup.podDir(),
                            hostDir,
                            backupRequest.mode())),
            r -> StepTexts.copiedBackup(req, r));
    backup =
        step(
            VERIFY_BACKUP,
            () ->
                acts.backup("verify backup in " + host + ":" + hostDir)
                    .verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files())),
            r -> r.verified() ? "verified: " + String.join(", ", r.checks()) : "NOT verified");
    requireVerifiedBackup("the BACKUP_VERIFIED gate");
  }

  void prepareMigrationValues() {
    ValuesActivities.ValuesResult v =
        values(
            PREPARE_MIGRATION_VALUES,
            UpgradeActivities.migrationValues(req, hostDir, preflight.dbSizeBytes(), backup));
    migrationValues = v.path();
    migrationDiff = v.diff();
  }

  void upgradeRelease() {
    phase.accept(Phase.UPGRADING, "deploying " + req.targetVersion() + " with db.recoveryMode");
    helmUpgrade(UPGRADE_RELEASE, req.targetVersion(), List.of(migrationValues), Map.of());
  }

  /**
   * Returns null when the import succeeded, else why it failed (the fallback is offered). Only
   * ImportFailed and ImportTimedOut count as a failed import; any other failure (the API server
   * unreachable, say) is thrown: the import may still be running, and deleting its cluster would be
   * wrong.
   */
  String awaitImport() {
    phase.accept(Phase.IMPORTING, "CNPG imports the legacy database");
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

  void restartServices() {
    phase.accept(Phase.RESTARTING, "restarting OpsChain services");
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

  void prepareFinalValues() {
    ValuesActivities.ValuesResult v =
        values(PREPARE_FINAL_VALUES, ValuesActivities.Kind.FINAL, false);
    finalValues = v.path();
    finalDiff = v.diff();
  }

  void finalizeUpgrade() {
    phase.accept(Phase.FINALIZING, "deploying without db.recoveryMode and db.volume");
    helmUpgrade(FINALIZE_UPGRADE, req.targetVersion(), List.of(finalValues), Map.of());
    step(
        AWAIT_LEGACY_DB_GONE,
        () ->
            acts.clusterWait("wait for " + req.namespace() + "/" + req.dbDeployment() + " removal")
                .awaitDeploymentGone(UpgradeActivities.waitFor(req, List.of(req.dbDeployment()))),
        r -> r.summary());
  }

  <T> T step(RunbookStep s, Supplier<T> body, Function<T, String> summary) {
    return steps.run(s.id(), s.describe(facts()), body, summary);
  }

  RunbookStep.Facts facts() {
    return new RunbookStep.Facts(req, host, hostDir, migrationDiff, finalDiff);
  }

  void helmUpgrade(
      RunbookStep s, String version, List<String> valuesFiles, Map<String, String> set) {
    String summary =
        "helm upgrade %s/%s %s (%s)".formatted(req.namespace(), req.release(), version, s.id());
    step(
        s,
        () ->
            acts.helm(summary)
                .upgrade(
                    UpgradeActivities.helmUpgrade(
                        req,
                        s.id(),
                        version,
                        valuesFiles,
                        set,
                        s == UPGRADE_RELEASE || s == FINALIZE_UPGRADE)),
        r ->
            "revision " + r.revision() + " " + r.status() + (r.changed() ? "" : " (already done)"));
  }

  ValuesActivities.ValuesResult values(RunbookStep s, ValuesActivities.Kind kind, boolean dryRun) {
    return values(s, new ValuesActivities.ValuesRequest(req.valuesFile(), hostDir, kind, dryRun));
  }

  /** A dry-run rendering that checks the CNPG storage against {@code minStorageBytes}. */
  private ValuesActivities.ValuesResult values(
      RunbookStep s, ValuesActivities.Kind kind, long minStorageBytes) {
    return values(
        s,
        new ValuesActivities.ValuesRequest(req.valuesFile(), hostDir, kind, true, minStorageBytes));
  }

  private ValuesActivities.ValuesResult values(RunbookStep s, ValuesActivities.ValuesRequest v) {
    return step(
        s,
        () ->
            acts.values(v.kind().name().toLowerCase() + " values from " + req.valuesFile())
                .prepareValues(v),
        r -> (v.dryRun() ? "would write " : "wrote ") + r.path());
  }

  /** A run continuing an earlier one works in that run's backup directory. */
  void continueRun(String earlierHostDir) {
    hostDir = earlierHostDir;
  }

  /**
   * The kept backup of the run this one continues, verified again on this host against the
   * SHA256SUMS that run wrote; null when it verifies, else why not (START cannot be approved).
   */
  String verifyKeptBackup() {
    try {
      backup =
          step(
              VERIFY_BACKUP,
              () ->
                  acts.backup("verify the kept backup in " + host + ":" + hostDir)
                      .verifyBackup(new BackupActivities.VerifyRequest(hostDir, List.of())),
              r ->
                  r.passesVerification()
                      ? "verified again: " + r.files().size() + " files"
                      : "NOT verified");
    } catch (ActivityFailure e) {
      return "the earlier run's backup in "
          + host
          + ":"
          + hostDir
          + " does not verify here: "
          + Failures.describe(e);
    }
    return backup.passesVerification() ? null : "the earlier run's backup does not verify";
  }

  void requireVerifiedBackup(String before) {
    if (backup == null || !backup.passesVerification()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "refusing to run " + before + " without a verified backup", FailureTypes.BACKUP_INVALID);
    }
  }

  /** The dry run: both values files computed but not written, and each step's planned change. */
  List<PlannedChange> plan() {
    return RunbookStep.plan(facts());
  }

  /** takeBackup's request: the run's marker (its workflow id) and the request's mode and format. */
  private BackupActivities.BackupRequest backupRequest() {
    return new BackupActivities.BackupRequest(
        req.namespace(),
        req.dbDeployment(),
        req.podBackupDir(),
        req.maxRate(),
        req.dbUser(),
        workflowId,
        req.backupMode(),
        req.backupFormat(),
        hostDir);
  }

  /** What the manual restore needs from the run: its request, host queue, backup dir and backup. */
  ManualRestoreWorkflow.ManualRestoreRequest manualRestoreRequest() {
    requireVerifiedBackup("the manual restore");
    return new ManualRestoreWorkflow.ManualRestoreRequest(
        req, acts.hostQueue(), hostDir, backup, acts.clusterQueue());
  }

  UpgradeActivities acts() {
    return acts;
  }

  String workflowId() {
    return workflowId;
  }

  ClusterActivities.PreflightResult preflightResult() {
    return preflight;
  }

  BackupEvidence backup() {
    return backup;
  }

  String finalValues() {
    return finalValues;
  }

  /**
   * Past the point of no return: the state the run leaves if it stops now (a cancel), as the step
   * or gate under way describes it.
   */
  String stateIfStoppedNow() {
    return stateIfStoppedNow;
  }

  void stateIfStoppedNow(String state) {
    stateIfStoppedNow = state;
  }

  /** host:dir of the backup on the worker host that holds it. */
  String backupLocation() {
    return host + ":" + hostDir;
  }
}
