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
   * PermissionDenied}), and the database size through {@code pg_database_size}.
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

  record PreflightRequest(
      String namespace,
      String release,
      String dbDeployment,
      String clusterName,
      List<String> restartDeployments,
      String dbUser) {}

  /**
   * @param legacyDbPresent the legacy db deployment exists
   * @param cnpgServing the CNPG cluster exists and is healthy
   * @param dbSizeBytes {@code pg_database_size} summed over databases, or 0 when the legacy db does
   *     not run
   * @param checks one line per check that passed
   */
  record PreflightResult(
      boolean legacyDbPresent, boolean cnpgServing, long dbSizeBytes, List<String> checks) {}

  record ScaleRequest(String namespace, String deployment, int replicas, boolean dryRun) {}

  record RestartRequest(
      String namespace, List<String> deployments, String restartedAt, boolean dryRun) {}
}
