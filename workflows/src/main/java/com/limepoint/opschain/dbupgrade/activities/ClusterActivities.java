package com.limepoint.opschain.dbupgrade.activities;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * Kubernetes workload steps of the runbook: the read-only preflight, "Stop OpsChain" (wait for all
 * deployments and statefulsets to stop), {@code kubectl scale deployment/opschain-db --replicas=1},
 * {@code kubectl rollout restart deployment ...}, and the wait for the legacy database deployment
 * to go after the final deploy. Every method checks the state before acting, so a second call is a
 * no-op.
 */
@ActivityInterface
public interface ClusterActivities {

  /**
   * Read-only checks: namespace, release objects, the CNPG CRD and a ready operator, a
   * SelfSubjectAccessReview for every verb the workflow uses (all missing ones in one {@code
   * PermissionDenied}), the database size through {@code pg_database_size}, and the database's data
   * directory and system identifier. A {@code podBackupDir} that is, contains or lies inside the
   * data directory, or any directory holding a {@code PG_VERSION}, is refused here, before anything
   * is touched.
   */
  @ActivityMethod
  PreflightResult preflight(PreflightRequest request);

  /** {@code kubectl scale deployment/<name> --replicas=N}; no-op when already at N. */
  @ActivityMethod
  ChangeResult scaleDeployment(ScaleRequest request);

  /** Waits until the named (or all) deployments and statefulsets run no pods. */
  @ActivityMethod
  WaitResult awaitWorkloadsStopped(WaitRequest request);

  /** Waits until the named deployments have all replicas ready. */
  @ActivityMethod
  WaitResult awaitDeploymentReady(WaitRequest request);

  /**
   * {@code kubectl rollout restart}: sets the pod template's {@code
   * kubectl.kubernetes.io/restartedAt} to {@code restartedAt}. The workflow passes the same value
   * on a retry, so each deployment restarts once.
   */
  @ActivityMethod
  ChangeResult rolloutRestart(RestartRequest request);

  /** Waits until the rollouts of the named deployments are complete and available. */
  @ActivityMethod
  WaitResult awaitRolloutComplete(WaitRequest request);

  /** Waits until the named deployments no longer exist (the legacy db after finalize). */
  @ActivityMethod
  WaitResult awaitDeploymentGone(WaitRequest request);

  /**
   * "Back in service" checked, not assumed: the legacy database's pod is ready, PostgreSQL answers
   * a query, and its system identifier is the one preflight recorded (the same database, not a new
   * or restored one). Fails non-retryable with {@code DatabaseNotInService} and what it found.
   */
  @ActivityMethod
  WaitResult checkDatabaseBack(DatabaseCheckRequest request);

  /**
   * @param systemIdentifier what preflight read; null skips the comparison
   */
  record DatabaseCheckRequest(
      String namespace,
      String dbDeployment,
      String dbUser,
      String systemIdentifier,
      long timeoutSeconds) {}

  /**
   * @param podBackupDir where the backup is to go in the db pod; checked against the data directory
   *     (null skips that check)
   */
  record PreflightRequest(
      String namespace,
      String release,
      String dbDeployment,
      String clusterName,
      List<String> restartDeployments,
      String dbUser,
      String podBackupDir) {
    public PreflightRequest(
        String namespace,
        String release,
        String dbDeployment,
        String clusterName,
        List<String> restartDeployments,
        String dbUser) {
      this(namespace, release, dbDeployment, clusterName, restartDeployments, dbUser, null);
    }
  }

  /**
   * @param legacyDbPresent the legacy db deployment exists
   * @param cnpgServing the CNPG cluster exists and is healthy
   * @param dbSizeBytes {@code pg_database_size} summed over databases, or 0 when the legacy db does
   *     not run
   * @param checks one line per check that passed
   * @param dataDirectory the legacy database's {@code data_directory}, or null
   * @param systemIdentifier its {@code pg_control_system()} system identifier, or null
   * @param replicas the replicas of the db deployment and the restart deployments as preflight
   *     found them (what OpsChain is scaled back to should the host that runs Helm be gone); empty
   *     from workers before it was recorded
   */
  record PreflightResult(
      boolean legacyDbPresent,
      boolean cnpgServing,
      long dbSizeBytes,
      List<String> checks,
      String dataDirectory,
      String systemIdentifier,
      java.util.Map<String, Integer> replicas) {
    public PreflightResult {
      replicas = replicas == null ? java.util.Map.of() : java.util.Map.copyOf(replicas);
    }

    public PreflightResult(
        boolean legacyDbPresent, boolean cnpgServing, long dbSizeBytes, List<String> checks) {
      this(legacyDbPresent, cnpgServing, dbSizeBytes, checks, null, null, null);
    }
  }

  record ScaleRequest(String namespace, String deployment, int replicas, boolean dryRun) {}

  record RestartRequest(
      String namespace, List<String> deployments, String restartedAt, boolean dryRun) {}
}
