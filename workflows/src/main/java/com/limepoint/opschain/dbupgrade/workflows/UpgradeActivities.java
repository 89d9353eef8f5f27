package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The one place where activity options are set. Each activity call gets a stub with a summary
 * ("pg_basebackup in opschain/opschain-db") that the Web UI shows on the event. Groups that read or
 * write files on the worker host run on that host's own task queue.
 */
final class UpgradeActivities {

  /** claimHost: one call on whichever worker polls the shared queue first. */
  static final Duration CLAIM_HOST = Duration.ofMinutes(1);

  /** A handful of API calls: scale, annotate, delete, patch, read. */
  static final Duration API_CALL = Duration.ofMinutes(2);

  /** How long a workload may take to stop, become ready, finish a rollout, or go away. */
  static final Duration WORKLOAD_WAIT = Duration.ofMinutes(30);

  /** pg_basebackup or its copy out of a large database at --max-rate. */
  static final Duration BACKUP_TRANSFER = Duration.ofHours(12);

  /** One helm upgrade with --wait. */
  static final Duration HELM_DEPLOY = Duration.ofMinutes(45);

  /** Wiping pgdata and extracting a large backup in the restore pod. */
  static final Duration RESTORE_EXEC = Duration.ofHours(6);

  /** Beyond importTimeout, the time an import watch gets to report it. */
  static final Duration IMPORT_MARGIN = Duration.ofMinutes(15);

  /**
   * Long activities heartbeat at least every 5 s while any call blocks (Heartbeats.CADENCE); 45
   * silent seconds mean the worker or its attempt is gone, and the retry (which first stops what
   * the earlier attempt still runs) starts within a minute.
   */
  static final Duration HEARTBEAT = Duration.ofSeconds(45);

  /**
   * How long a host-queue activity may wait for the worker that holds the backup to take it. Longer
   * than a worker's restart; a host that does not come back ends the wait, and the workflow stops
   * at a gate that names it rather than wait forever.
   */
  static final Duration HOST_START = Duration.ofMinutes(10);

  /** How long the legacy database may take to answer after a compensation. */
  static final Duration DATABASE_CHECK = Duration.ofSeconds(60);

  /**
   * An abort or a cancel waits until the running activity has seen the cancel on its heartbeat and
   * cleaned up what it owns (a pod process, a part file, a lock) before the compensation starts:
   * with the default TRY_CANCEL, Helm's put-back could run beside a backup still streaming.
   */
  private static final ActivityCancellationType CANCEL =
      ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

  private static final RetryOptions RETRY =
      RetryOptions.newBuilder()
          .setInitialInterval(Duration.ofSeconds(2))
          .setBackoffCoefficient(2.0)
          .setMaximumInterval(Duration.ofMinutes(1))
          .setMaximumAttempts(8)
          .setDoNotRetry(FailureTypes.NON_RETRYABLE.toArray(String[]::new))
          .build();

  private static final RetryOptions RETRY_LONG = RETRY.toBuilder().setMaximumAttempts(3).build();

  /**
   * Waits retry without an attempt limit: an API server that is away for a while, or a lost worker,
   * costs attempts, not the upgrade. Each wait's own time counts from its first attempt
   * (Waits.firstScheduled), and the schedule-to-close timeout bounds all attempts together.
   */
  private static final RetryOptions RETRY_WAIT = RETRY.toBuilder().setMaximumAttempts(0).build();

  /** Beyond a wait's own time, what its attempts together may take before Temporal stops them. */
  static final Duration WAIT_MARGIN = Duration.ofMinutes(5);

  private final String hostQueue;
  private final String clusterQueue;
  private final Duration importTimeout;
  private Duration hostStart = HOST_START;

  /** How long host-queue activities wait for the host's worker; 0 or less keeps the default. */
  UpgradeActivities withHostStart(long seconds) {
    if (seconds > 0) {
      hostStart = Duration.ofSeconds(seconds);
    }
    return this;
  }

  Duration hostStart() {
    return hostStart;
  }

  /**
   * @param hostQueue the task queue of the host that holds the backup (from claimHost); null before
   *     it is known
   */
  UpgradeActivities(String hostQueue, Duration importTimeout) {
    this(hostQueue, null, importTimeout);
  }

  /**
   * @param clusterQueue the task queue only the workers of the run's cluster poll, for the
   *     Kubernetes activities; null: the shared queue
   */
  UpgradeActivities(String hostQueue, String clusterQueue, Duration importTimeout) {
    this.hostQueue = hostQueue;
    this.clusterQueue = clusterQueue;
    this.importTimeout = importTimeout;
  }

  HostActivities host(String summary) {
    return stub(HostActivities.class, null, CLAIM_HOST, null, RETRY, summary);
  }

  ClusterActivities cluster(String summary) {
    return stub(ClusterActivities.class, clusterQueue, API_CALL, null, RETRY, summary);
  }

  ClusterActivities clusterWait(String summary) {
    return waitStub(ClusterActivities.class, WORKLOAD_WAIT, summary);
  }

  CnpgActivities cnpg(String summary) {
    return stub(CnpgActivities.class, clusterQueue, API_CALL, null, RETRY, summary);
  }

  CnpgActivities cnpgWait(String summary) {
    return waitStub(CnpgActivities.class, importTimeout.plus(IMPORT_MARGIN), summary);
  }

  RestorePodActivities restorePod(String summary) {
    return LostWorkers.survive(
        RestorePodActivities.class,
        stub(
            RestorePodActivities.class,
            clusterQueue,
            RESTORE_EXEC,
            HEARTBEAT,
            RETRY_LONG,
            summary));
  }

  BackupActivities backup(String summary) {
    return LostWorkers.survive(
        BackupActivities.class,
        onHost(BackupActivities.class, BACKUP_TRANSFER, HEARTBEAT, RETRY_LONG, summary));
  }

  /** The census and the rehearsal: on the host that holds the backup and keeps the censuses. */
  DataCheckActivities dataCheck(String summary) {
    return LostWorkers.survive(
        DataCheckActivities.class,
        onHost(DataCheckActivities.class, RESTORE_EXEC, HEARTBEAT, RETRY_LONG, summary));
  }

  HelmActivities helm(String summary) {
    return LostWorkers.survive(
        HelmActivities.class,
        onHost(HelmActivities.class, HELM_DEPLOY, HEARTBEAT, RETRY_LONG, summary));
  }

  ValuesActivities values(String summary) {
    return onHost(ValuesActivities.class, API_CALL, null, RETRY, summary);
  }

  /**
   * The Helm upgrade both workflows deploy with: release and chart come from the request, the step
   * is part of the release's marker. Past the point of no return (the deploys after BACKUP_VERIFIED
   * and the manual restore's): no {@code --wait} and no {@code --atomic}. OpsChain's services stay
   * unready until the database answers (the runbook: "some OpsChain services fail to start during a
   * long-running migration"), so a waiting Helm would time out during a long import and its
   * rollback would delete the importing cluster; the watch after the deploy decides instead.
   */
  static HelmActivities.UpgradeRequest helmUpgrade(
      UpgradeRequest req,
      RunbookStep step,
      String version,
      List<String> valuesFiles,
      Map<String, String> set) {
    boolean pastPointOfNoReturn =
        step == RunbookStep.UPGRADE_RELEASE
            || step == RunbookStep.FINALIZE_UPGRADE
            || step.path() == RunbookStep.Path.MANUAL_RESTORE;
    return new HelmActivities.UpgradeRequest(
        req.namespace(),
        req.release(),
        req.chart(),
        version,
        valuesFiles,
        set,
        step.id(),
        HELM_DEPLOY.minusMinutes(5).toSeconds(),
        false,
        pastPointOfNoReturn);
  }

  /**
   * The migration values, written after the backup: CNPG's storage must hold the database and,
   * beside it, the dump CNPG's import writes before restoring it, estimated by the verified base
   * archive's compressed size (pg_dump -Fd compresses its table data with gzip by default; the base
   * archive also holds the indexes, which the dump does not). Only the activity's input changes,
   * not the command sequence: a run replays as before, and one in flight checks with it from here
   * on.
   */
  static ValuesActivities.ValuesRequest migrationValues(
      UpgradeRequest req, String hostDir, long dbBytes, BackupEvidence backup) {
    long dump =
        backup == null
            ? 0
            : backup.files().stream()
                .filter(f -> f.name().startsWith("base.tar"))
                .mapToLong(f -> f.hostBytes() == null ? 0 : f.hostBytes())
                .sum();
    return new ValuesActivities.ValuesRequest(
        req.valuesFile(), hostDir, ValuesActivities.Kind.MIGRATION, false, dbBytes, dump);
  }

  /** A wait for the named workloads (none: all of them) in the request's namespace. */
  static WaitRequest waitFor(UpgradeRequest req, List<String> names) {
    return new WaitRequest(req.namespace(), names, waitSeconds());
  }

  /** A wait for every workload of the request's Helm release (not the worker's own). */
  static WaitRequest waitForRelease(UpgradeRequest req) {
    return new WaitRequest(req.namespace(), List.of(), waitSeconds(), req.release());
  }

  /** Seconds a wait activity may wait inside its own start-to-close. */
  static long waitSeconds() {
    return WORKLOAD_WAIT.minus(Duration.ofMinutes(1)).toSeconds();
  }

  String hostQueue() {
    return hostQueue;
  }

  String clusterQueue() {
    return clusterQueue;
  }

  long importSeconds() {
    return importTimeout.toSeconds();
  }

  private <T> T waitStub(Class<T> type, Duration waitTime, String summary) {
    ActivityOptions.Builder b = ActivityOptions.newBuilder();
    if (clusterQueue != null) {
      b.setTaskQueue(clusterQueue);
    }
    return Workflow.newActivityStub(
        type,
        b.setStartToCloseTimeout(waitTime)
            .setScheduleToCloseTimeout(waitTime.plus(WAIT_MARGIN))
            .setHeartbeatTimeout(HEARTBEAT)
            .setRetryOptions(RETRY_WAIT)
            .setSummary(summary)
            .setCancellationType(CANCEL)
            .build());
  }

  /**
   * An activity on the host's queue, with {@link #hostStart} ({@link #HOST_START} by default):
   * Temporal does not retry a schedule-to-start timeout, so a vanished host fails the step once
   * (before the host is known, the shared queue, without it).
   */
  private <T> T onHost(
      Class<T> type,
      Duration startToClose,
      Duration heartbeat,
      RetryOptions retry,
      String summary) {
    ActivityOptions.Builder b = options(hostQueue, startToClose, heartbeat, retry, summary);
    if (hostQueue != null) {
      b.setScheduleToStartTimeout(hostStart);
    }
    return Workflow.newActivityStub(type, b.build());
  }

  private static <T> T stub(
      Class<T> type,
      String taskQueue,
      Duration startToClose,
      Duration heartbeat,
      RetryOptions retry,
      String summary) {
    return Workflow.newActivityStub(
        type, options(taskQueue, startToClose, heartbeat, retry, summary).build());
  }

  private static ActivityOptions.Builder options(
      String taskQueue,
      Duration startToClose,
      Duration heartbeat,
      RetryOptions retry,
      String summary) {
    ActivityOptions.Builder b =
        ActivityOptions.newBuilder()
            .setStartToCloseTimeout(startToClose)
            .setRetryOptions(retry)
            .setSummary(summary)
            .setCancellationType(CANCEL);
    if (taskQueue != null) {
      b.setTaskQueue(taskQueue);
    }
    if (heartbeat != null) {
      b.setHeartbeatTimeout(heartbeat);
    }
    return b;
  }
}
