package com.limepoint.opschain.dbupgrade.activities;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * CloudNativePG steps: following the import ("Deploy OpsChain" in the runbook), and the manual
 * migration's cluster delete, hibernation and resume.
 */
@ActivityInterface
public interface CnpgActivities {

  /**
   * Waits, heartbeating the phase and the import pod's last log lines, until the cluster is healthy
   * ({@code Cluster in healthy state} and readyInstances == instances) and the {@code
   * <cluster>-1-import} pod succeeded. Fails non-retryable with {@code ImportFailed} (the pod
   * failed, or the cluster is unrecoverable) or {@code ImportTimedOut}. Polling happens inside this
   * one activity, so a 10-hour import adds no more history events than a 1-minute one.
   */
  @ActivityMethod
  ImportResult awaitImport(ImportRequest request);

  /** Checks the CNPG operator is installed and running (manual migration requirement). */
  @ActivityMethod
  ChangeResult checkOperator(ClusterRequest request);

  /** {@code kubectl delete cluster <name>}; "already gone" is success. */
  @ActivityMethod
  ChangeResult deleteCluster(ClusterRequest request);

  /** Sets or removes the {@code cnpg.io/hibernation=on} annotation. */
  @ActivityMethod
  ChangeResult setHibernation(HibernationRequest request);

  /** Waits until no pod of the cluster (label cnpg.io/cluster) exists. */
  @ActivityMethod
  WaitResult awaitDbPodGone(ClusterRequest request);

  /** Waits until the cluster is healthy again after hibernation is off. */
  @ActivityMethod
  ImportResult awaitClusterHealthy(ImportRequest request);

  record ImportRequest(String namespace, String clusterName, long timeoutSeconds) {}

  record ImportResult(
      String phase, int readyInstances, int instances, long waitedMillis, List<String> logTail) {
    public ImportResult {
      logTail = logTail == null ? List.of() : List.copyOf(logTail);
    }
  }

  record ClusterRequest(String namespace, String clusterName, boolean dryRun) {}

  record HibernationRequest(String namespace, String clusterName, boolean on, boolean dryRun) {}
}
