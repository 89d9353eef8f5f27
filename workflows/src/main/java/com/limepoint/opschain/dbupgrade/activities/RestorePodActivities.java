package com.limepoint.opschain.dbupgrade.activities;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;
import java.util.Map;

/**
 * The runbook's manual database migration inside the {@code restore-from-backup} pod: create it on
 * the database PVC, save the four conf files (never overwriting a saved copy), empty pgdata and
 * extract the archives, chown, restore the conf files, check {@code pg_controldata}, delete the
 * pod. Commands run as argv lists.
 */
@ActivityInterface
public interface RestorePodActivities {

  /**
   * The manual migration's preconditions, checked before its gate: the runbook restores the backup
   * with {@code restoreImage} onto PVC {@code pvcName} ("update the image tag and claim name
   * according to your setup"); a PostgreSQL of another major version cannot start on that data, and
   * a PVC that is not the cluster's data volume restores into nothing the cluster uses. Runs {@code
   * postgres --version} of the image in a short-lived pod (deleted again, also on failure) and
   * reads the PVC. Changes nothing else. Each fact that does not hold is a problem in the result
   * that says what to set; only failures to reach the API (or a pod that does not finish within the
   * timeout) fail the activity, retryably.
   */
  @ActivityMethod
  RestoreTargetCheck checkRestoreTarget(RestoreTargetRequest request);

  /**
   * Creates the pod: PVC {@code pvcName} at the parent of pgdata, securityContext root, the image
   * from the request, {@code sleep} instead of an interactive shell. Reuses a running one.
   */
  @ActivityMethod
  ChangeResult createRestorePod(RestorePodRequest request);

  /**
   * Copies pg_hba.conf, pg_ident.conf, postgresql.conf and postgresql.auto.conf to a save dir on
   * the PVC, only if they are not saved already: a retry after the pgdata wipe cannot lose them.
   */
  @ActivityMethod
  ChangeResult saveConfFiles(PgdataRequest request);

  /**
   * Empties pgdata, extracts base.tar.gz into it and pg_wal.tar.gz into pgdata/pg_wal, chowns the
   * data dir to dataOwner and restores the saved conf files. Refuses to run without saved conf.
   */
  @ActivityMethod
  ChangeResult restorePgdata(PgdataRequest request);

  /**
   * Runs {@code pg_controldata <pgdata>}; fails non-retryable with {@code ControlDataMismatch} and
   * the output unless the state is "in production".
   */
  @ActivityMethod
  ControlDataResult checkControlData(PgdataRequest request);

  /** Deletes the restore pod; "already gone" is success. */
  @ActivityMethod
  ChangeResult deleteRestorePod(RestorePodRequest request);

  record RestorePodRequest(
      String namespace,
      String podName,
      String image,
      String pvcName,
      String pgdata,
      boolean dryRun) {}

  /**
   * @param uploadDir where uploadBackup put the archives in the pod
   * @param dataOwner uid:gid for {@code chown -R}
   */
  record PgdataRequest(
      String namespace, String podName, String pgdata, String uploadDir, String dataOwner) {}

  record ControlDataResult(String clusterState, String output) {}

  /**
   * @param backupPgVersion the backup's {@code PG_VERSION} ("15", "9.6"), from {@link
   *     BackupActivities#backupPgVersion}
   * @param timeoutSeconds how long the image's pod may take to pull and run; 0 or less: 300
   */
  record RestoreTargetRequest(
      String namespace,
      String clusterName,
      String pvcName,
      String restoreImage,
      String backupPgVersion,
      long timeoutSeconds) {}

  /**
   * The evidence for the manual restore's gate.
   *
   * @param imageVersion what the image's {@code postgres --version} printed (its first line), or
   *     null when it printed nothing usable
   * @param imageMajor the image's PostgreSQL major version ("15", "9.6"), or null when unknown
   * @param backupMajor the backup's {@code PG_VERSION}
   * @param pvcFound whether the PVC exists in the namespace
   * @param pvcLabels the PVC's {@code cnpg.io/} labels (cluster, instanceName, pvcRole)
   * @param pvcOwners the PVC's owner references as {@code Kind/name}
   * @param problems what does not hold, each with what to set; empty when the restore may go on
   */
  record RestoreTargetCheck(
      String restoreImage,
      String imageVersion,
      String imageMajor,
      String backupMajor,
      String pvcName,
      boolean pvcFound,
      Map<String, String> pvcLabels,
      List<String> pvcOwners,
      List<String> problems) {
    public RestoreTargetCheck {
      pvcLabels = pvcLabels == null ? Map.of() : Map.copyOf(pvcLabels);
      pvcOwners = pvcOwners == null ? List.of() : List.copyOf(pvcOwners);
      problems = problems == null ? List.of() : List.copyOf(problems);
    }

    /** True when the image matches the backup and the PVC is the cluster's: nothing to fix. */
    public boolean passes() {
      return problems.isEmpty();
    }
  }
}
