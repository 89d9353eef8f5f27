package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * What a person sees at the {@code BACKUP_VERIFIED} gate: where the backup is on the worker host,
 * each file's size and SHA-256 on both ends, and which archive checks passed.
 *
 * @param host the worker host (and its task queue) that holds the files
 * @param verified true only when every file matches and every archive check passed
 */
public record BackupEvidence(
    String host, String hostDir, List<BackupFile> files, List<String> checks, boolean verified) {

  public BackupEvidence {
    files = files == null ? List.of() : List.copyOf(files);
    checks = checks == null ? List.of() : List.copyOf(checks);
  }

  /**
   * The definition of a verified backup: non-empty, hashes equal, archives intact. A base archive
   * in any format; its WAL, in pg_wal.tar or (streamed) inside the base, is counted by
   * verifyBackup, which does not set {@code verified} without it.
   */
  public boolean passesVerification() {
    return verified
        && files.stream().anyMatch(f -> f.name().startsWith("base.tar"))
        && files.stream().allMatch(BackupFile::matches);
  }
}
