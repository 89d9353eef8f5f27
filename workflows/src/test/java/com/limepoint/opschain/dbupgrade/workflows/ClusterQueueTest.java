package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mockingDetails;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two clusters' workers on one Temporal namespace: the worker that claims the upgrade binds it to
 * its cluster, and every Kubernetes step then runs on that cluster's queue, never on a worker of
 * the other cluster that polls the shared queue too.
 */
class ClusterQueueTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  static final String CLUSTER_A = "3f1c9a2e-5b7d-4e10-9c3a-7d2b1e0f4a55";
  static final String QUEUE_A = "opschain-db-upgrade-cluster-3f1c9a2e5b7d";

  @Test
  void everyKubernetesStepRunsOnTheClaimedClustersQueueOnly(
      TestWorkflowEnvironment env, Worker shared, WorkflowClient client) {
    FakeActivities clusterA = new FakeActivities();
    FakeActivities clusterB = new FakeActivities();
    when(clusterA.host.claimHost(any()))
        .thenReturn(
            new HostActivities.HostQueue(
                "host-a", FakeActivities.HOST_QUEUE, false, List.of(), CLUSTER_A, QUEUE_A));
    ApplicationFailure wrong =
        ApplicationFailure.newNonRetryableFailure(
            "ran on cluster B", FailureTypes.PREFLIGHT_FAILED);
    when(clusterB.cluster.preflight(any())).thenThrow(wrong);
    when(clusterB.cluster.scaleDeployment(any())).thenThrow(wrong);
    // Cluster B's worker polls the shared queue (it could take the claim); cluster A's worker
    // polls the shared queue, its cluster queue and its host queue.
    shared.registerActivitiesImplementations(
        clusterA.host, clusterB.cluster, clusterB.cnpg, clusterB.restorePod);
    env.newWorker(QUEUE_A)
        .registerActivitiesImplementations(clusterA.cluster, clusterA.cnpg, clusterA.restorePod);
    env.newWorker(FakeActivities.HOST_QUEUE)
        .registerActivitiesImplementations(
            clusterA.backup, clusterA.helm, clusterA.values, clusterA.dataCheck);
    env.start();
    DbUpgradeWorkflow wf = start(client, shared.getTaskQueue(), request());

    UpgradeStatus atStart = awaitGate(wf, Gate.START);
    assertThat(atStart.openGate().evidence().details())
        .anyMatch(d -> d.contains("Kubernetes cluster " + CLUSTER_A));
    for (Gate g :
        List.of(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE)) {
      awaitGate(wf, g);
      wf.approveGate(new GateDecision(g.name(), "alice", null));
    }

    assertThat(result(client, WorkflowTestSupport.NAMESPACE).outcome())
        .isEqualTo(Outcome.COMPLETED);
    assertThat(mockingDetails(clusterB.cluster).getInvocations()).isEmpty();
    assertThat(mockingDetails(clusterB.cnpg).getInvocations()).isEmpty();
    assertThat(clusterA.calls())
        .contains("Cluster.preflight", "Cluster.scaleDeployment", "Cnpg.awaitImport");
  }
}
