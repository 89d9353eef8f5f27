package com.limepoint.opschain.dbupgrade.activities;

import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * The runbook's "Backup the existing database": {@code pg_basebackup} in the db pod, the copy to
 * the host ({@code kubectl cp}, done with checksums and resume), its verification, and for the
 * manual migration the upload of the archives into the restore pod. These run on the host-specific
 * task queue, where the backup lives.
 */
@ActivityInterface
public interface BackupActivities {

  /** Read-only: the host backup dir has room for the database (with a margin). */
  @ActivityMethod
  ChangeResult checkFreeSpace(SpaceRequest request);

  /**
   * {@code pg_basebackup -h 127.0.0.1 -p 5432 -U <dbUser> -D <podBackupDir> -Ft -z --compress=6 -P
   * -vvv --wal-method=stream --checkpoint=fast --max-rate=<maxRate>} in the db pod, heartbeating
   * {@code -P} progress. A complete backup of this workflow (its marker file) is reused; a partial
   * one is cleared and taken again.
   */
  @ActivityMethod
  PodBackup takeBackup(BackupRequest request);

  /**
   * Streams each backup file out of the pod to {@code hostDir}, hashing on both ends; writes to a
   * temp name, fsyncs and renames only when size and SHA-256 match. A stream that ends early is
   * resumed from the verified offset.
   */
  @ActivityMethod
  BackupEvidence copyBackupOut(CopyRequest request);

  /**
   * Non-empty files, equal hashes, {@code gzip -t} and a {@code tar} listing pass, and base.tar.gz
   * holds PG_VERSION and backup_label. The result is the BACKUP_VERIFIED evidence.
   */
  @ActivityMethod
  BackupEvidence verifyBackup(VerifyRequest request);

  /**
   * Read-only: the PostgreSQL major version of the backup in {@code hostDir}, from the {@code
   * PG_VERSION} at the top of its base.tar.gz (the data directory's, not a database's). The manual
   * restore compares it with the restore image's version; it runs here because the backup is on
   * this host. A base.tar.gz without it is BACKUP_INVALID.
   */
  @ActivityMethod
  BackupPgVersion backupPgVersion(BackupPgVersionRequest request);

  /** Copies the archives into a pod and checks their SHA-256 there; skips files already there. */
  @ActivityMethod
  ChangeResult uploadBackup(UploadRequest request);

  record SpaceRequest(String hostDir, long requiredBytes) {}

  record BackupPgVersionRequest(String hostDir) {}

  /**
   * @param pgVersion the content of PG_VERSION: the major version, such as "15" or "9.6"
   */
  record BackupPgVersion(String hostDir, String pgVersion) {}

  /**
   * @param mode {@code pod} (the runbook's: the backup is written in the pod, then copied out) or
   *     {@code stream} (straight to {@code hostDir}, nothing on the pod's disk); null is {@code
   *     pod}
   * @param format {@code gzip}, {@code zstd} or {@code auto} (zstd where the server compresses,
   *     PostgreSQL 15+, else gzip); null is {@code gzip}, the runbook's
   * @param hostDir where a streamed backup is written; unused in pod mode
   */
  record BackupRequest(
      String namespace,
      String dbDeployment,
      String podBackupDir,
      String maxRate,
      String dbUser,
      String marker,
      String mode,
      String format,
      String hostDir) {

    /** The runbook's backup: written in the pod, gzip. */
    public BackupRequest(
        String namespace,
        String dbDeployment,
        String podBackupDir,
        String maxRate,
        String dbUser,
        String marker) {
      this(namespace, dbDeployment, podBackupDir, maxRate, dbUser, marker, null, null, null);
    }

    public boolean streamed() {
      return STREAM.equals(mode);
    }
  }

  /** The backup modes a request may name. */
  String POD = "pod";

  String STREAM = "stream";

  /** The files pg_basebackup wrote in the pod, with in-pod sizes and hashes. */
  record PodBackup(String pod, String podDir, List<BackupFile> files, boolean reused) {
    public PodBackup {
      files = files == null ? List.of() : List.copyOf(files);
    }
  }

  /**
   * @param mode the backup's mode: a {@code stream} backup is on the host already, and the copy
   *     only confirms it
   */
  record CopyRequest(String namespace, String pod, String podDir, String hostDir, String mode) {
    public CopyRequest(String namespace, String pod, String podDir, String hostDir) {
      this(namespace, pod, podDir, hostDir, null);
    }
  }

  record VerifyRequest(String hostDir, List<BackupFile> expected) {
    public VerifyRequest {
      expected = expected == null ? List.of() : List.copyOf(expected);
    }
  }

  record UploadRequest(
      String namespace, String pod, String hostDir, String podDir, List<BackupFile> files) {
    public UploadRequest {
      files = files == null ? List.of() : List.copyOf(files);
    }
  }
}
