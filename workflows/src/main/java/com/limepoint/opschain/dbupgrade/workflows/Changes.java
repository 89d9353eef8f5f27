package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.workflow.Workflow;

/**
 * The {@code Workflow.getVersion} change ids: every change to the workflows' command sequence is
 * guarded by one, and the committed histories under {@code workflows/src/test/resources/histories}
 * replay on the version each was recorded with.
 */
final class Changes {
  private Changes() {}

  /** Version 1: podBackupDir and pgdata must not overlap (checked in the request's validation). */
  static final String PATH_OVERLAP = "path-overlap";

  /** Version 1: the host dir carries the run id, like every marker. */
  static final String RUN_SCOPED_HOST_DIR = "run-scoped-host-dir";

  /** Version 1: the legacy database is checked after a compensation. */
  static final String CHECKED_COMPENSATION = "checked-compensation";

  /** Version 1: the OpsChainNamespace and UpgradePhase search attributes are upserted. */
  static final String SEARCH_ATTRIBUTES = "search-attributes";

  /**
   * Version 1: past the point of no return a failed step stops at the RETRY_STEP gate (approving
   * runs it again) instead of failing the run; only ImportFailed and ImportTimedOut open
   * MANUAL_RESTORE; and gates past the point of no return wait for a person without timing out.
   */
  static final String CONTINUABLE_STOPS = "continuable-stops";

  /**
   * Version 1: before START (and before the dry run's plan), both values files are rendered in dry
   * run, and the migration values' CNPG storage must hold the database.
   */
  static final String VALUES_AT_PREFLIGHT = "values-at-preflight";

  /**
   * Version 1: after claimHost, the Kubernetes activities run on the task queue of the claimed
   * worker's cluster ({@code <taskQueue>-cluster-<id>}), which only workers of that cluster poll.
   */
  static final String CLUSTER_QUEUE = "cluster-queue";

  /**
   * Version 1: before MANUAL_RESTORE opens, the backup's PG_VERSION, the restore image's major and
   * the PVC are checked; a mismatch is shown and approving is refused.
   */
  static final String RESTORE_CHECKS = "restore-checks";

  /**
   * Version 1: the worker's approval policy (from claimHost) decides who may approve; a request may
   * only narrow it, skipGates needs a worker that allows it, and the policy's gates need a second
   * approver.
   */
  static final String APPROVAL_POLICY = "approval-policy";

  /**
   * Version 1: the data is proven. A census of the legacy database after OpsChain stopped, a
   * restore rehearsal of the backup before BACKUP_VERIFIED (a failed one blocks it), and the CNPG
   * database's census compared with the source after the import and after a manual restore (a
   * difference offers MANUAL_RESTORE or blocks FINALIZE).
   */
  static final String PROVE_DATA = "prove-data";

  /**
   * Version 1: when putting OpsChain back finds the host that runs Helm gone (its activity not
   * taken within the host's schedule-to-start), the cluster's workers scale the legacy database and
   * OpsChain's deployments back instead.
   */
  static final String HOST_GONE = "host-gone";

  /**
   * Version 1: the backup is taken in the request's {@code backupMode} and {@code backupFormat} (by
   * default streamed to the host). Runs from before take the runbook's: written in the pod.
   */
  static final String BACKUP_MODES = "backup-modes";

  /**
   * Version 1: a request without a backupFormat gets {@code auto} (server-side zstd on PostgreSQL
   * 15 and later), measured the shortest downtime; runs from before keep the runbook's gzip.
   */
  static final String AUTO_FORMAT = "auto-format";

  /**
   * Version 1: a long activity whose attempts all ended by heartbeat timeout (the worker running it
   * was lost each time) is scheduled again, up to {@link LostWorkers#ROUNDS} times, instead of
   * failing the step ({@link LostWorkers}). Runs from before fail the step there.
   */
  static final String LOST_WORKER_ROUNDS = "lost-worker-rounds";

  /** The backupFormat of a request that names none: {@link #AUTO_FORMAT}. */
  static String defaultBackupFormat() {
    return Workflow.getVersion(AUTO_FORMAT, Workflow.DEFAULT_VERSION, 1) >= 1
        ? UpgradeRequests.DEFAULT_BACKUP_FORMAT
        : UpgradeRequests.RUNBOOK_BACKUP_FORMAT;
  }

  /** takeBackup's request: the mode and format of {@link #BACKUP_MODES}, or the runbook's. */
  static BackupActivities.BackupRequest backupRequest(
      UpgradeRequest req, String marker, String hostDir) {
    boolean v1 = Workflow.getVersion(BACKUP_MODES, Workflow.DEFAULT_VERSION, 1) >= 1;
    return new BackupActivities.BackupRequest(
        req.namespace(),
        req.dbDeployment(),
        req.podBackupDir(),
        req.maxRate(),
        req.dbUser(),
        marker,
        v1 ? req.backupMode() : BackupActivities.POD,
        v1 ? req.backupFormat() : null,
        hostDir);
  }
}
