package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.workflows.RunbookStep.Facts;

/** The longer descriptions and plan lines of {@link RunbookStep}'s entries. */
final class StepTexts {
  private StepTexts() {}

  /** The rehearsal's scratch pod: the db deployment's name and {@code -rehearsal}. */
  static String rehearsalPod(Facts f) {
    String base = f.req().dbDeployment();
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
            + rehearsalPod(f)
            + " ("
            + f.req().restoreImage()
            + ", emptyDir), start PostgreSQL, compare counts and checksums with the source";
  }

  static String rehearsalPlan(Facts f) {
    return f.req().skipRehearsal() != null
        ? "no restore rehearsal (skipped: " + f.req().skipRehearsal() + ")"
        : "create pod "
            + rehearsalPod(f)
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
