package com.limepoint.opschain.dbupgrade.activities;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/**
 * The runbook's manual database migration inside the {@code restore-from-backup} pod: create it on
 * the database PVC, save the four conf files (never overwriting a saved copy), empty pgdata and
 * extract the archives, chown, restore the conf files, check {@code pg_controldata}, delete the
 * pod. Commands run as argv lists.
 */
@ActivityInterface
public interface RestorePodActivities {

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
}
