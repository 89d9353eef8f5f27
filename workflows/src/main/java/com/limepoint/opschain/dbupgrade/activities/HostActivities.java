package com.limepoint.opschain.dbupgrade.activities;

import com.limepoint.opschain.dbupgrade.model.ApprovalPolicy;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * Picks the worker host that will hold the backup. It runs on the shared task queue; the worker
 * that takes it answers with its own host-specific queue, and every activity that reads or writes
 * host files (backup copy, verify, upload, values, Helm) then runs there. This is the
 * file-processing pattern of the Temporal samples: the backup never has to move between hosts.
 */
@ActivityInterface
public interface HostActivities {

  @ActivityMethod
  HostQueue claimHost(ClaimRequest request);

  record ClaimRequest(String namespace) {}

  /**
   * The host's name and the task queue only its worker polls.
   *
   * @param searchAttributes the worker says the Temporal namespace has the search attributes {@code
   *     OpsChainNamespace} and {@code UpgradePhase} registered, so the workflow may set them
   *     (setting an unregistered one would fail every workflow task)
   * @param defaultApprovers the worker's default approvers, for requests that name none
   * @param cluster the identity of the Kubernetes cluster the worker talks to (the SHA-256 of its
   *     CA certificate, or of the API server URL when no CA is configured); null from workers
   *     before it was reported
   * @param clusterQueue the task queue that only workers of that cluster poll, for the Kubernetes
   *     activities; null from workers before it existed
   * @param policy the worker's approval policy; null from workers before it existed (then {@code
   *     defaultApprovers} apply when the request names nobody)
   * @param hostStartSeconds how long this host's activities wait for its worker to take them
   *     (schedule-to-start); 0: the workflow's default, 10 minutes
   * @param clusterSource what {@code cluster} is the SHA-256 of, in words ({@link #cluster}'s
   *     source); null: not reported
   */
  record HostQueue(
      String host,
      String taskQueue,
      boolean searchAttributes,
      List<String> defaultApprovers,
      String cluster,
      String clusterQueue,
      ApprovalPolicy policy,
      long hostStartSeconds,
      String clusterSource) {
    public HostQueue {
      defaultApprovers = defaultApprovers == null ? List.of() : List.copyOf(defaultApprovers);
    }

    /** With the workflow's own wait for this host's worker ({@code hostStartSeconds} 0). */
    public HostQueue(
        String host,
        String taskQueue,
        boolean searchAttributes,
        List<String> defaultApprovers,
        String cluster,
        String clusterQueue,
        ApprovalPolicy policy) {
      this(host, taskQueue, searchAttributes, defaultApprovers, cluster, clusterQueue, policy, 0);
    }

    /** Without saying what the cluster id was computed from. */
    public HostQueue(
        String host,
        String taskQueue,
        boolean searchAttributes,
        List<String> defaultApprovers,
        String cluster,
        String clusterQueue,
        ApprovalPolicy policy,
        long hostStartSeconds) {
      this(
          host,
          taskQueue,
          searchAttributes,
          defaultApprovers,
          cluster,
          clusterQueue,
          policy,
          hostStartSeconds,
          null);
    }

    public HostQueue(String host, String taskQueue) {
      this(host, taskQueue, false, List.of(), null, null, null);
    }

    public HostQueue(String host, String taskQueue, boolean searchAttributes) {
      this(host, taskQueue, searchAttributes, List.of(), null, null, null);
    }

    public HostQueue(
        String host, String taskQueue, boolean searchAttributes, List<String> defaultApprovers) {
      this(host, taskQueue, searchAttributes, defaultApprovers, null, null, null);
    }

    public HostQueue(
        String host,
        String taskQueue,
        boolean searchAttributes,
        List<String> defaultApprovers,
        String cluster,
        String clusterQueue) {
      this(host, taskQueue, searchAttributes, defaultApprovers, cluster, clusterQueue, null);
    }
  }
}
