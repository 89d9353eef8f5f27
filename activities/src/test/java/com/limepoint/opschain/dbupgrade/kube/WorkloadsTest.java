package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import org.junit.jupiter.api.Test;

/** When awaitRolloutComplete (and preflight's operator check) count a deployment as rolled out. */
class WorkloadsTest {

  static Deployment deployment(
      Long generation,
      int want,
      Long observed,
      Integer updated,
      Integer available,
      Integer replicas) {
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName("app")
        .withGeneration(generation)
        .endMetadata()
        .withNewSpec()
        .withReplicas(want)
        .endSpec()
        .withNewStatus()
        .withObservedGeneration(observed)
        .withUpdatedReplicas(updated)
        .withAvailableReplicas(available)
        .withReplicas(replicas)
        .endStatus()
        .build();
  }

  @Test
  void aDeploymentWithEveryReplicaUpdatedAndAvailableOnTheNewGenerationIsRolledOut() {
    assertThat(Workloads.available(deployment(3L, 2, 3L, 2, 2, 2))).isTrue();
  }

  @Test
  void aGenerationTheControllerHasNotObservedIsNotRolledOut() {
    assertThat(Workloads.available(deployment(4L, 2, 3L, 2, 2, 2))).isFalse();
  }

  @Test
  void oldReplicasStillRunningOrNewOnesNotAvailableAreNotRolledOut() {
    assertThat(Workloads.available(deployment(3L, 2, 3L, 2, 2, 3))).as("surge").isFalse();
    assertThat(Workloads.available(deployment(3L, 2, 3L, 1, 2, 2))).as("updated").isFalse();
    assertThat(Workloads.available(deployment(3L, 2, 3L, 2, 1, 2))).as("available").isFalse();
  }

  @Test
  void withoutStatusNothingIsRolledOutAndMissingCountsAreZero() {
    Deployment noStatus = deployment(1L, 1, 1L, 1, 1, 1);
    noStatus.setStatus(null);
    assertThat(Workloads.available(noStatus)).isFalse();
    assertThat(Workloads.available(deployment(null, 0, null, null, null, null))).isTrue();
  }
}
