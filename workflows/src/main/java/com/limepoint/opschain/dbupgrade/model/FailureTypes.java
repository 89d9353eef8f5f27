package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * The stable {@code ApplicationFailure} types. Scripts and alerts match on these, so they are
 * public API like the workflow's names.
 */
public final class FailureTypes {
  /** The request is malformed; nothing ran. */
  public static final String INVALID_REQUEST = "InvalidRequest";

  /** A read-only preflight check failed; nothing was changed. */
  public static final String PREFLIGHT_FAILED = "PreflightFailed";

  /** The worker's service account lacks verbs on resources; the message lists all of them. */
  public static final String PERMISSION_DENIED = "PermissionDenied";

  /** The host backup dir has less free space than the database needs. */
  public static final String INSUFFICIENT_SPACE = "InsufficientSpace";

  /** The in-pod and on-host SHA-256 of a backup file differ after every retry. */
  public static final String BACKUP_CHECKSUM_MISMATCH = "BackupChecksumMismatch";

  /** A backup archive is empty, truncated or lacks PG_VERSION/backup_label. */
  public static final String BACKUP_INVALID = "BackupInvalid";

  /** pg_basebackup exited non-zero. */
  public static final String BACKUP_FAILED = "BackupFailed";

  /** The CNPG import pod failed or the cluster is unrecoverable. */
  public static final String IMPORT_FAILED = "ImportFailed";

  /** The import did not finish within {@code importTimeout}. */
  public static final String IMPORT_TIMED_OUT = "ImportTimedOut";

  /** The user's values.yaml cannot be parsed or lacks the db section. */
  public static final String INVALID_VALUES = "InvalidValues";

  /** Another client left the Helm release mid-operation. */
  public static final String RELEASE_BUSY = "ReleaseBusy";

  /** A Helm call failed, or its process ended without an answer; retried. */
  public static final String HELM_FAILED = "HelmFailed";

  /** pg_controldata does not show "in production" after a manual restore. */
  public static final String CONTROL_DATA_MISMATCH = "ControlDataMismatch";

  /** The manual restore child workflow failed; the cause says at which step. */
  public static final String MANUAL_RESTORE_FAILED = "ManualRestoreFailed";

  /** Putting OpsChain back in service after an abort failed. */
  public static final String COMPENSATION_FAILED = "CompensationFailed";

  /**
   * After a compensation, the legacy database does not answer, or answers as another database (its
   * system identifier changed): OpsChain is not back in service.
   */
  public static final String DATABASE_NOT_IN_SERVICE = "DatabaseNotInService";

  /**
   * A directory or object of the name this run would use exists but was not made by this run (no
   * matching owner marker or run annotation); it was left alone.
   */
  public static final String NOT_OWNED = "NotOwned";

  /**
   * The census query failed in the database's pod (a table the role may not read, the pod gone);
   * retried: a pod that was not ready may be by then.
   */
  public static final String CENSUS_FAILED = "CensusFailed";

  /** Failures that a retry cannot fix; activity retry policies stop on these. */
  public static final List<String> NON_RETRYABLE =
      List.of(
          INVALID_REQUEST,
          PREFLIGHT_FAILED,
          PERMISSION_DENIED,
          INSUFFICIENT_SPACE,
          BACKUP_CHECKSUM_MISMATCH,
          BACKUP_INVALID,
          IMPORT_FAILED,
          IMPORT_TIMED_OUT,
          INVALID_VALUES,
          RELEASE_BUSY,
          CONTROL_DATA_MISMATCH,
          DATABASE_NOT_IN_SERVICE,
          NOT_OWNED);

  private FailureTypes() {}
}
