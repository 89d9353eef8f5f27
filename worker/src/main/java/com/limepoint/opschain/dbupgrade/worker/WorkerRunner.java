package com.limepoint.opschain.dbupgrade.worker;

import com.limepoint.opschain.dbupgrade.backup.BackupActivitiesImpl;
import com.limepoint.opschain.dbupgrade.backup.DataCheckActivitiesImpl;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgActivitiesImpl;
import com.limepoint.opschain.dbupgrade.helm.HelmActivitiesImpl;
import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.kube.ClusterActivitiesImpl;
import com.limepoint.opschain.dbupgrade.kube.ClusterIdentity;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.HostActivitiesImpl;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import com.limepoint.opschain.dbupgrade.values.ValuesActivitiesImpl;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflowImpl;
import com.limepoint.opschain.dbupgrade.workflows.ManualRestoreWorkflowImpl;
import com.limepoint.opschain.dbupgrade.workflows.QueueOptions;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micronaut.context.annotation.Context;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerOptions;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the workflows and activities and starts polling with the application context; on
 * shutdown (SIGTERM) stops polling and waits for running activities up to {@code shutdownGrace}.
 * Kubernetes-only activities poll the shared queue; file-affine ones (backup, values, Helm) poll
 * this host's own queue, which {@code claimHost} hands to the workflow.
 */
@Context
@io.micronaut.context.annotation.Requires(property = "opschain.dev-worker", notEquals = "false")
public class WorkerRunner {
  private static final Logger log = LoggerFactory.getLogger(WorkerRunner.class);

  private final WorkerFactory factory;
  private final WorkerConfig config;
  private final KubernetesClient kube;
  private final HelmReleases helm;
  private final boolean stickyQueues;

  public WorkerRunner(
      WorkerFactory factory,
      WorkerConfig config,
      KubernetesClient kube,
      HelmReleases helm,
      java.util.Optional<LocalTemporalServer> localServer) {
    this.factory = factory;
    this.config = config;
    this.kube = kube;
    this.helm = helm;
    this.stickyQueues = localServer.map(LocalTemporalServer::keepsStickyQueues).orElse(true);
  }

  @PostConstruct
  void start() {
    String host = config.hostName();
    ClusterIdentity cluster = ClusterIdentity.of(kube.getConfiguration());
    String hostQueue = config.hostQueue(cluster.shortId());
    String clusterQueue = config.clusterQueue(cluster.shortId());
    WorkerOptions slots = QueueOptions.of(config.activitySlots(), stickyQueues);
    Worker shared = factory.newWorker(config.taskQueue(), slots);
    shared.registerWorkflowImplementationTypes(
        DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class);
    shared.registerActivitiesImplementations(
        new HostActivitiesImpl(
            host,
            hostQueue,
            config.searchAttributes(),
            config.approvers(),
            cluster,
            clusterQueue,
            config.approvalPolicy(),
            config.hostStart().toSeconds()),
        // On the shared queue too, for upgrades started before the cluster queue existed.
        new ClusterActivitiesImpl(kube),
        new CnpgActivitiesImpl(kube),
        new RestorePodActivitiesImpl(kube));
    factory
        .newWorker(clusterQueue, slots)
        .registerActivitiesImplementations(
            new ClusterActivitiesImpl(kube),
            new CnpgActivitiesImpl(kube),
            new RestorePodActivitiesImpl(kube));
    Worker files = factory.newWorker(hostQueue, slots);
    files.registerActivitiesImplementations(
        new BackupActivitiesImpl(kube, host),
        new DataCheckActivitiesImpl(kube),
        new HelmActivitiesImpl(helm),
        new ValuesActivitiesImpl());
    Heartbeats.reportTo(factory.getWorkflowClient());
    factory.start();
    log.info(
        "polling {}, {} and {} on {} (namespace {}); cluster {} ({}); {} activities at once per"
            + " queue{}",
        config.taskQueue(),
        clusterQueue,
        hostQueue,
        config.temporalTarget(),
        config.temporalNamespace(),
        cluster.id(),
        cluster.source(),
        config.activitySlots(),
        stickyQueues ? "" : "; no sticky queues (the Java test server ignores their timeout)");
    approvalPolicyWarnings(config.approvalPolicy()).forEach(log::warn);
  }

  /**
   * What this worker lets through that a production worker would not, said once at start (each
   * gate's evidence says it again): anyone may approve, or one approval decides the gates that take
   * two by default.
   */
  static java.util.List<String> approvalPolicyWarnings(
      com.limepoint.opschain.dbupgrade.model.ApprovalPolicy p) {
    java.util.List<String> warnings = new java.util.ArrayList<>();
    if (p.approvers().isEmpty() && p.anyoneMayApprove()) {
      warnings.add(
          "anyone who can reach Temporal may approve every gate, whatever --by says:"
              + " OPSCHAIN_ANYONE_MAY_APPROVE=true and no OPSCHAIN_APPROVERS (the dev mode sets"
              + " this so that one person can run the demo alone; name approvers in production)");
    }
    var defaults =
        com.limepoint.opschain.dbupgrade.model.ApprovalPolicy.DEFAULT_SECOND_APPROVER_GATES;
    var single = defaults.stream().filter(g -> !p.secondApproverGates().contains(g)).toList();
    if (!single.isEmpty()) {
      warnings.add(
          "one approval decides "
              + String.join(" and ", single)
              + ": OPSCHAIN_SECOND_APPROVER_GATES does not name them (the dev mode sets none;"
              + " by default they need two different people)");
    }
    return warnings;
  }

  @PreDestroy
  void stop() {
    log.info(
        "stopping: no new tasks; waiting up to {} for running activities", config.shutdownGrace());
    factory.shutdown();
    factory.awaitTermination(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
    factory.shutdownNow();
  }
}
