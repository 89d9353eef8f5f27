package com.limepoint.opschain.dbupgrade.activities;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/**
 * The runbook's "Update the values.yaml file": writes new values files next to the backup, keeping
 * the user's comments and key order; the user's file is never modified.
 */
@ActivityInterface
public interface ValuesActivities {

  /**
   * Writes {@code values.<kind>.yaml} into {@code outputDir} and returns a unified diff against the
   * user's file. In dry run it returns the diff and writes nothing.
   */
  @ActivityMethod
  ValuesResult prepareValues(ValuesRequest request);

  enum Kind {
    /**
     * db.recoveryMode: true, db.cnpg.storage copied from db.volume (defaults null and 10Gi) where
     * the user has not set it.
     */
    MIGRATION,
    /** The migration values without db.recoveryMode, for the manual migration's redeploys. */
    RESTORE,
    /** Without db.recoveryMode and without db.volume: the final deploy. */
    FINAL
  }

  /**
   * @param minStorageBytes when above 0, the CNPG storage size the values give must hold this many
   *     bytes (the database size preflight measured), else the values are refused
   * @param importDumpBytes when above 0, the storage must hold this many more: CNPG's import writes
   *     its whole dump into the new instance's PGDATA before it restores it (estimated from the
   *     verified base archive's compressed size)
   */
  record ValuesRequest(
      String valuesFile,
      String outputDir,
      Kind kind,
      boolean dryRun,
      long minStorageBytes,
      long importDumpBytes) {

    public ValuesRequest(String valuesFile, String outputDir, Kind kind, boolean dryRun) {
      this(valuesFile, outputDir, kind, dryRun, 0, 0);
    }

    public ValuesRequest(
        String valuesFile, String outputDir, Kind kind, boolean dryRun, long minStorageBytes) {
      this(valuesFile, outputDir, kind, dryRun, minStorageBytes, 0);
    }
  }

  record ValuesResult(String path, String diff) {}
}
