package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.PlannedChange;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Every step of both workflows, defined once, in runbook order: its id (the name in the status, the
 * report and the history's activity summaries), the activity that carries it out, its description,
 * the change it makes as the dry run plans it, and whether it destroys anything. The workflows, the
 * status and the dry-run plan read their text from here; the tests read their expected sequences
 * from here.
 */
public enum RunbookStep {
  // ---- DbUpgradeWorkflow: before the START gate, read-only ----
  CLAIM_HOST(
      "claimHost",
      Path.UPGRADE,
      "Host.claimHost",
      f -> "pick the worker host that will hold the backup"),
  RELEASE_STATUS("releaseStatus", Path.UPGRADE, "Helm.releaseStatus", f -> "read the Helm release"),
  PREFLIGHT(
      "preflight",
      Path.UPGRADE,
      "Cluster.preflight",
      f -> "namespace, CRD, operator, permissions and database size (read-only)"),
  CHECK_FREE_SPACE(
      "checkFreeSpace",
      Path.UPGRADE,
      "Backup.checkFreeSpace",
      f -> "room for the backup under " + f.req().hostBackupDir()),
  CHECK_MIGRATION_VALUES(
      "checkMigrationValues",
      Path.UPGRADE,
      "Values.prepareValues",
      f -> "dry-run migration values"),
  CHECK_FINAL_VALUES(
      "checkFinalValues", Path.UPGRADE, "Values.prepareValues", f -> "dry-run final values"),
  GATE_START(Gate.START, f -> "wait for approval; the downtime begins"),

  // ---- the downtime and the backup: undone on abort or failure ----
  STOP_OPSCHAIN(
      "stopOpsChain",
      Path.UPGRADE,
      "Helm.upgrade",
      f -> "helm upgrade " + f.req().currentVersion() + " --set stopped=true",
      RunbookStep::stopPlan,
      false),
  AWAIT_STOPPED(
      "awaitStopped",
      Path.UPGRADE,
      "Cluster.awaitWorkloadsStopped",
      f -> "wait until the release's deployments and statefulsets are stopped and their pods gone"),
  SCALE_DB_UP(
      "scaleDbUp",
      Path.UPGRADE,
      "Cluster.scaleDeployment",
      f -> "kubectl scale deployment/" + f.req().dbDeployment() + " --replicas=1",
      f -> "kubectl scale deployment/" + f.req().dbDeployment() + " --replicas=1",
      false),
  AWAIT_DB_READY(
      "awaitDbReady",
      Path.UPGRADE,
      "Cluster.awaitDeploymentReady",
      f -> "wait until " + f.req().dbDeployment() + " is ready"),
  SOURCE_CENSUS(
      "sourceCensus",
      Path.UPGRADE,
      "DataCheck.census",
      RunbookStep::sourceCensus,
      RunbookStep::sourceCensusPlan,
      false),
  TAKE_BACKUP(
      "takeBackup",
      Path.UPGRADE,
      "Backup.takeBackup",
      RunbookStep::takeBackup,
      RunbookStep::takeBackupPlan,
      false),
  COPY_BACKUP_OUT(
      "copyBackupOut",
      Path.UPGRADE,
      "Backup.copyBackupOut",
      RunbookStep::copyBackupOut,
      RunbookStep::copyBackupOutPlan,
      false),
  VERIFY_BACKUP(
      "verifyBackup",
      Path.UPGRADE,
      "Backup.verifyBackup",
      f -> "sizes, SHA-256, archives whole (checked as copied), PG_VERSION, backup_label, WAL"),
  REHEARSE_RESTORE(
      "rehearseRestore",
      Path.UPGRADE,
      "DataCheck.rehearseRestore",
      RunbookStep::rehearsal,
      RunbookStep::rehearsalPlan,
      false),
  PREPARE_MIGRATION_VALUES(
      "prepareMigrationValues",
      Path.UPGRADE,
      "Values.prepareValues",
      f -> "write values.migration.yaml from " + f.req().valuesFile(),
      f -> "write values.migration.yaml:\n" + f.migrationDiff(),
      false),
  GATE_BACKUP_VERIFIED(Gate.BACKUP_VERIFIED, f -> "wait for approval of the verified backup"),

  // ---- after the point of no return: never undone blindly ----
  UPGRADE_RELEASE(
      "upgradeRelease",
      Path.UPGRADE,
      "Helm.upgrade",
      f -> "helm upgrade " + f.req().targetVersion() + " with the migration values",
      RunbookStep::upgradePlan,
      true),
  AWAIT_IMPORT(
      "awaitImport",
      Path.UPGRADE,
      "Cnpg.awaitImport",
      f -> "wait for CNPG cluster " + f.req().clusterName() + " healthy and the import pod done",
      RunbookStep::awaitImportPlan,
      false),
  CHECK_PARITY(
      "checkParity",
      Path.UPGRADE,
      "DataCheck.census",
      RunbookStep::parity,
      RunbookStep::parityPlan,
      false),
  BACKUP_PG_VERSION(
      "backupPgVersion", Path.FALLBACK, "Backup.backupPgVersion", f -> "PG_VERSION of the backup"),
  CHECK_RESTORE_TARGET(
      "checkRestoreTarget", Path.FALLBACK, "RestorePod.checkRestoreTarget", f -> "image and PVC"),
  GATE_MANUAL_RESTORE(
      "gate " + Gate.MANUAL_RESTORE, Path.FALLBACK, null, f -> Gate.MANUAL_RESTORE.question()),
  MANUAL_RESTORE(
      "manualRestore",
      Path.FALLBACK,
      "ManualRestoreWorkflow.restore",
      f -> "the runbook's manual database migration (child workflow)"),
  CHECK_RESTORED_PARITY(
      "checkRestoredParity", Path.FALLBACK, "DataCheck.census", RunbookStep::restoredParity),
  RESTART_SERVICES(
      "restartServices",
      Path.UPGRADE,
      "Cluster.rolloutRestart",
      f -> "kubectl rollout restart deployment " + String.join(" ", f.req().restartDeployments()),
      f -> "kubectl rollout restart deployment " + String.join(" ", f.req().restartDeployments()),
      false),
  AWAIT_ROLLOUT(
      "awaitRollout",
      Path.UPGRADE,
      "Cluster.awaitRolloutComplete",
      f -> "wait until the restarted deployments are available"),
  GATE_SERVICES_VERIFIED(Gate.SERVICES_VERIFIED, f -> "wait for a person to check OpsChain works"),
  PREPARE_FINAL_VALUES(
      "prepareFinalValues",
      Path.UPGRADE,
      "Values.prepareValues",
      f -> "write values.final.yaml from " + f.req().valuesFile(),
      f -> "write values.final.yaml:\n" + f.finalDiff(),
      false),
  GATE_FINALIZE(Gate.FINALIZE, f -> "wait for approval to remove the legacy database"),
  FINALIZE_UPGRADE(
      "finalizeUpgrade",
      Path.UPGRADE,
      "Helm.upgrade",
      f -> "helm upgrade " + f.req().targetVersion() + " with the final values",
      RunbookStep::finalizePlan,
      true),
  AWAIT_LEGACY_DB_GONE(
      "awaitLegacyDbGone",
      Path.UPGRADE,
      "Cluster.awaitDeploymentGone",
      f -> "wait until the legacy " + f.req().dbDeployment() + " deployment is gone"),

  // ---- compensation: before the point of no return, back in service on currentVersion ----
  PUT_BACK_IN_SERVICE(
      "putBackInService",
      Path.COMPENSATION,
      "Helm.upgrade",
      f -> "helm upgrade " + f.req().currentVersion() + " with the user's values, not stopped"),
  SCALE_BACK_WITHOUT_HOST(
      "scaleBackWithoutHost", Path.COMPENSATION, "Cluster.scaleDeployment", RunbookStep::scaleBack),
  AWAIT_SERVICES_BACK(
      "awaitServicesBack",
      Path.COMPENSATION,
      "Cluster.awaitRolloutComplete",
      f -> "wait until OpsChain's deployments are available again"),
  CHECK_DATABASE_BACK(
      "checkDatabaseBack",
      Path.COMPENSATION,
      "Cluster.checkDatabaseBack",
      f -> "the legacy database answers and is the one preflight recorded"),

  // ---- ManualRestoreWorkflow: the runbook's "Manual database migration" ----
  CHECK_BACKUP(
      "checkBackup",
      Path.MANUAL_RESTORE,
      "Backup.verifyBackup",
      f -> "base.tar.gz and pg_wal.tar.gz on the host, checksums unchanged"),
  CHECK_OPERATOR(
      "checkOperator",
      Path.MANUAL_RESTORE,
      "Cnpg.checkOperator",
      f -> "the CNPG operator is installed and running"),
  DELETE_CLUSTER(
      "deleteCluster",
      Path.MANUAL_RESTORE,
      "Cnpg.deleteCluster",
      f -> "kubectl delete cluster " + f.req().clusterName(),
      null,
      true),
  PREPARE_RESTORE_VALUES(
      "prepareRestoreValues",
      Path.MANUAL_RESTORE,
      "Values.prepareValues",
      f -> "the migration values without db.recoveryMode"),
  REDEPLOY_STOPPED(
      "redeployStopped",
      Path.MANUAL_RESTORE,
      "Helm.upgrade",
      f -> restoreDeploy(f, byAnnotation(f) ? "stopped=true" : "stopped=true, stopDatabase=true")),
  HIBERNATE_ON(
      "hibernateOn",
      Path.MANUAL_RESTORE,
      "Cnpg.setHibernation",
      f -> "kubectl annotate cluster " + f.req().clusterName() + " cnpg.io/hibernation=on"),
  AWAIT_DB_POD_GONE(
      "awaitDbPodGone",
      Path.MANUAL_RESTORE,
      "Cnpg.awaitDbPodGone",
      f -> "wait until the database pod is gone"),
  CREATE_RESTORE_POD(
      "createRestorePod",
      Path.MANUAL_RESTORE,
      "RestorePod.createRestorePod",
      f -> "kubectl run " + ManualRestoreWorkflowImpl.RESTORE_POD + " on PVC " + f.req().pvcName()),
  UPLOAD_BACKUP(
      "uploadBackup",
      Path.MANUAL_RESTORE,
      "Backup.uploadBackup",
      f ->
          "copy the archives into "
              + ManualRestoreWorkflowImpl.RESTORE_POD
              + ":"
              + f.req().podBackupDir()
              + " and check SHA-256"),
  SAVE_CONF_FILES(
      "saveConfFiles",
      Path.MANUAL_RESTORE,
      "RestorePod.saveConfFiles",
      f -> "save pg_hba.conf, pg_ident.conf, postgresql.conf and postgresql.auto.conf once"),
  RESTORE_PGDATA(
      "restorePgdata",
      Path.MANUAL_RESTORE,
      "RestorePod.restorePgdata",
      f -> "empty pgdata, extract base and WAL, chown " + f.req().dataOwner() + ", restore conf",
      null,
      true),
  CHECK_CONTROL_DATA(
      "checkControlData",
      Path.MANUAL_RESTORE,
      "RestorePod.checkControlData",
      f -> "pg_controldata must show 'in production'"),
  DELETE_RESTORE_POD(
      "deleteRestorePod",
      Path.MANUAL_RESTORE,
      "RestorePod.deleteRestorePod",
      f -> "delete " + ManualRestoreWorkflowImpl.RESTORE_POD),
  HIBERNATE_OFF(
      "hibernateOff",
      Path.MANUAL_RESTORE,
      "Cnpg.setHibernation",
      f -> "kubectl annotate cluster " + f.req().clusterName() + " cnpg.io/hibernation=off"),
  REDEPLOY_WITHOUT_STOP_DATABASE(
      "redeployWithoutStopDatabase",
      Path.MANUAL_RESTORE,
      "Helm.upgrade",
      f -> restoreDeploy(f, "stopped=true")),
  AWAIT_CLUSTER_HEALTHY(
      "awaitClusterHealthy",
      Path.MANUAL_RESTORE,
      "Cnpg.awaitClusterHealthy",
      f -> "wait until CNPG cluster " + f.req().clusterName() + " is healthy"),
  REDEPLOY_RUNNING(
      "redeployRunning", Path.MANUAL_RESTORE, "Helm.upgrade", f -> restoreDeploy(f, "running"));

  /**
   * Which run of which workflow a step belongs to: UPGRADE, DbUpgradeWorkflow's main line (listed
   * ahead in the status, in this order); FALLBACK, its checks, gate and child when the import
   * fails; COMPENSATION, OpsChain put back in service before the point of no return;
   * MANUAL_RESTORE, ManualRestoreWorkflow.
   */
  public enum Path {
    UPGRADE,
    FALLBACK,
    COMPENSATION,
    MANUAL_RESTORE
  }

  /** What a description may name: the request and what the run has learnt so far. */
  public record Facts(
      UpgradeRequest req, String host, String hostDir, String migrationDiff, String finalDiff) {}

  private final String id;
  private final Path path;
  private final String activity;
  private final Function<Facts, String> description;
  private final Function<Facts, String> planned;
  private final boolean destructive;

  RunbookStep(
      String id,
      Path path,
      String activity,
      Function<Facts, String> description,
      Function<Facts, String> planned,
      boolean destructive) {
    this.id = id;
    this.path = path;
    this.activity = activity;
    this.description = description;
    this.planned = planned;
    this.destructive = destructive;
  }

  RunbookStep(String id, Path path, String activity, Function<Facts, String> description) {
    this(id, path, activity, description, null, false);
  }

  /** A gate on the main line: its question is the description, and the dry run plans the wait. */
  RunbookStep(Gate gate, Function<Facts, String> planned) {
    this("gate " + gate.name(), Path.UPGRADE, null, f -> gate.question(), planned, false);
  }

  /** The name in the status, the report and the activity summaries, e.g. {@code takeBackup}. */
  public String id() {
    return id;
  }

  public Path path() {
    return path;
  }

  /** {@code Group.method} of the activity that carries the step out; null for a gate. */
  public String activity() {
    return activity;
  }

  public boolean destructive() {
    return destructive;
  }

  public String describe(Facts facts) {
    return description.apply(facts);
  }

  /** The dry run's line for this step, or null when the dry run does not list it. */
  public String planned(Facts facts) {
    return planned == null ? null : planned.apply(facts);
  }

  /** The steps of one path, in runbook order. */
  public static List<RunbookStep> of(Path path) {
    return Arrays.stream(values()).filter(s -> s.path == path).toList();
  }

  /** The steps from {@code first} to {@code last}, both included, on {@code first}'s path. */
  public static List<RunbookStep> range(RunbookStep first, RunbookStep last) {
    return of(first.path).stream()
        .filter(s -> s.ordinal() >= first.ordinal() && s.ordinal() <= last.ordinal())
        .toList();
  }

  /**
   * The main line's steps an earlier run did before the import, which a run continuing it does not
   * run again (it verifies the kept backup again instead).
   */
  static List<RunbookStep> beforeImport() {
    return range(STOP_OPSCHAIN, UPGRADE_RELEASE).stream().filter(s -> s != VERIFY_BACKUP).toList();
  }

  /** The dry run's plan: each listed step of the main line with the change it would make. */
  static List<PlannedChange> plan(Facts facts) {
    return of(Path.UPGRADE).stream()
        .filter(s -> s.planned != null)
        .map(s -> new PlannedChange(s.id, s.planned(facts), s.destructive))
        .toList();
  }

  // ---- the longer descriptions and plan lines, and the result lines of the backup steps ----

  /** The rehearsal's scratch pod: the db deployment's name and {@code -rehearsal}. */
  static String rehearsalPod(UpgradeRequest req) {
    String base = req.dbDeployment();
    return (base.length() > 52 ? base.substring(0, 52) : base) + "-rehearsal";
  }

  static String sourceCensus(Facts f) {
    return "count every table of database "
        + f.req().database()
        + " (checksums up to 256 MiB per table) in the stopped legacy database";
  }

  static String takeBackup(Facts f) {
    return "stream".equals(f.req().backupMode())
        ? "pg_basebackup -D - -Ft -X fetch (" + f.req().backupFormat() + ") straight to the host"
        : "pg_basebackup -Ft --wal-method=stream ("
            + f.req().backupFormat()
            + ") into "
            + f.req().podBackupDir();
  }

  static String takeBackupPlan(Facts f) {
    return "stream".equals(f.req().backupMode())
        ? "pg_basebackup -D - -Ft -X fetch --max-rate="
            + f.req().maxRate()
            + " in the db pod, streamed to "
            + f.host()
            + ":"
            + f.hostDir()
            + " and hashed on both ends; format "
            + f.req().backupFormat()
            + " (auto: zstd on PostgreSQL 15+, else gzip)"
        : "pg_basebackup -D "
            + f.req().podBackupDir()
            + " -Ft --max-rate="
            + f.req().maxRate()
            + " in the db pod; format "
            + f.req().backupFormat();
  }

  static String copyBackupOut(Facts f) {
    return "stream".equals(f.req().backupMode())
        ? "confirm the streamed archive on the host, in " + f.hostDir() + " (nothing to copy)"
        : "copy the backup out of the pod to " + f.hostDir() + " with SHA-256 on both ends";
  }

  static String copyBackupOutPlan(Facts f) {
    return "stream".equals(f.req().backupMode())
        ? "nothing to copy: the backup was streamed to %s:%s; its files and manifest are confirmed there"
            .formatted(f.host(), f.hostDir())
        : "copy the archives and manifest to %s:%s, verified".formatted(f.host(), f.hostDir());
  }

  /** takeBackup's one line: streamed to the host, or written in the pod's podBackupDir. */
  static String tookBackup(UpgradeRequest req, BackupActivities.PodBackup r) {
    if ("stream".equals(req.backupMode())) {
      return (r.reused() ? "reused " : "streamed ")
          + count(r.files().size(), "archive")
          + " from pod "
          + r.pod()
          + " to the host";
    }
    return (r.reused() ? "reused " : "took ")
        + count(r.files().size(), "file")
        + " in pod "
        + r.pod()
        + ":"
        + r.podDir();
  }

  /** copyBackupOut's one line: what is on the host now. */
  static String copiedBackup(UpgradeRequest req, BackupEvidence r) {
    String files = count(r.files().size(), "file");
    return "stream".equals(req.backupMode())
        ? files + " on the host already (streamed), in " + r.hostDir()
        : files + " copied to " + r.hostDir();
  }

  static String count(int n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  static String sourceCensusPlan(Facts f) {
    return "read-only census of "
        + f.req().database()
        + " in the "
        + f.req().dbDeployment()
        + " pod, kept as "
        + f.host()
        + ":"
        + f.hostDir()
        + "/census-source.tsv";
  }

  static String rehearsal(Facts f) {
    return f.req().skipRehearsal() != null
        ? "skipped: " + f.req().skipRehearsal()
        : "restore the backup once in pod "
            + rehearsalPod(f.req())
            + " ("
            + f.req().restoreImage()
            + ", emptyDir), start PostgreSQL, compare counts and checksums with the source";
  }

  static String rehearsalPlan(Facts f) {
    return f.req().skipRehearsal() != null
        ? "no restore rehearsal (skipped: " + f.req().skipRehearsal() + ")"
        : "create pod "
            + rehearsalPod(f.req())
            + " ("
            + f.req().restoreImage()
            + ", an emptyDir sized from the database), upload and extract the backup, start"
            + " PostgreSQL, census compared with the source; then delete the pod and its emptyDir";
  }

  static String parity(Facts f) {
    return "counts and checksums of "
        + f.req().database()
        + " in CNPG cluster "
        + f.req().clusterName()
        + " compared with the source";
  }

  static String parityPlan(Facts f) {
    return "read-only census of the CNPG database compared with the source; a difference keeps"
        + " FINALIZE closed and offers MANUAL_RESTORE";
  }

  static String restoredParity(Facts f) {
    return "counts and checksums after the manual restore compared with the source";
  }

  static boolean byAnnotation(Facts f) {
    return UpgradeRequests.HIBERNATE_BY_ANNOTATION.equals(f.req().hibernateBy());
  }

  static String restoreDeploy(Facts f, String how) {
    return "helm upgrade " + f.req().targetVersion() + " with the restore values, " + how;
  }

  static String stopPlan(Facts f) {
    return "helm upgrade "
        + f.req().release()
        + " --version "
        + f.req().currentVersion()
        + " --set stopped=true; wait for all deployments and statefulsets in "
        + f.req().namespace()
        + " to stop";
  }

  static String upgradePlan(Facts f) {
    return "helm upgrade "
        + f.req().release()
        + " --version "
        + f.req().targetVersion()
        + " with the migration values (point of no return)";
  }

  static String finalizePlan(Facts f) {
    return "helm upgrade "
        + f.req().release()
        + " --version "
        + f.req().targetVersion()
        + " with the final values; the legacy "
        + f.req().dbDeployment()
        + " deployment is deleted";
  }

  static String awaitImportPlan(Facts f) {
    return "wait up to "
        + f.req().importTimeout()
        + " for CNPG cluster "
        + f.req().clusterName()
        + "; on failure offer MANUAL_RESTORE";
  }

  static String scaleBack(Facts f) {
    return "only when the host that runs Helm is gone: scale "
        + f.req().dbDeployment()
        + " and "
        + String.join(", ", f.req().restartDeployments())
        + " back to their replicas at preflight";
  }
}
