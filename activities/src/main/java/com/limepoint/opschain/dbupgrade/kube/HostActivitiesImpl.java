package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.activities.HostActivities;

/**
 * Answers with this worker's host-specific task queue: the worker that takes claimHost is the one
 * that will hold the backup, and every host-file activity then runs on its queue.
 */
public class HostActivitiesImpl implements HostActivities {
  private final String host;
  private final String hostQueue;

  private final boolean searchAttributes;
  private final java.util.List<String> defaultApprovers;
  private final ClusterIdentity cluster;
  private final String clusterQueue;
  private final long hostStartSeconds;
  private final com.limepoint.opschain.dbupgrade.model.ApprovalPolicy policy;

  public HostActivitiesImpl(String host, String hostQueue) {
    this(host, hostQueue, false, java.util.List.of());
  }

  public HostActivitiesImpl(
      String host,
      String hostQueue,
      boolean searchAttributes,
      java.util.List<String> defaultApprovers) {
    this(host, hostQueue, searchAttributes, defaultApprovers, null, null, null);
  }

  /**
   * @param searchAttributes the worker's configuration says the search attributes are registered
   * @param defaultApprovers who may approve gates when a request names no approvers
   * @param cluster the cluster this worker talks to; with {@code clusterQueue}, the queue only its
   *     workers poll (null: the Kubernetes activities stay on the shared queue)
   * @param policy the worker's approval policy (null: the request's approvers, else the defaults)
   */
  public HostActivitiesImpl(
      String host,
      String hostQueue,
      boolean searchAttributes,
      java.util.List<String> defaultApprovers,
      ClusterIdentity cluster,
      String clusterQueue,
      com.limepoint.opschain.dbupgrade.model.ApprovalPolicy policy) {
    this(host, hostQueue, searchAttributes, defaultApprovers, cluster, clusterQueue, policy, 0);
  }

  /**
   * @param hostStartSeconds how long this host's activities may wait for this worker to take them
   *     (the worker's {@code opschain.host-start}); 0: the workflow's default
   */
  public HostActivitiesImpl(
      String host,
      String hostQueue,
      boolean searchAttributes,
      java.util.List<String> defaultApprovers,
      ClusterIdentity cluster,
      String clusterQueue,
      com.limepoint.opschain.dbupgrade.model.ApprovalPolicy policy,
      long hostStartSeconds) {
    this.hostStartSeconds = hostStartSeconds;
    this.policy = policy;
    this.cluster = cluster;
    this.clusterQueue = clusterQueue;
    this.host = host;
    this.hostQueue = hostQueue;
    this.searchAttributes = searchAttributes;
    this.defaultApprovers =
        defaultApprovers == null ? java.util.List.of() : java.util.List.copyOf(defaultApprovers);
  }

  @Override
  public HostQueue claimHost(ClaimRequest request) {
    return new HostQueue(
        host,
        hostQueue,
        searchAttributes,
        defaultApprovers,
        cluster == null ? null : cluster.id(),
        clusterQueue,
        policy,
        hostStartSeconds,
        cluster == null ? null : cluster.source());
  }
}
