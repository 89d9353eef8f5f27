package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.micronaut.context.ApplicationContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The approval policy and the host-start wait as the worker reads them from its settings. */
class WorkerConfigTest {

  private static WorkerConfig read(Map<String, Object> properties) {
    Map<String, Object> all = new java.util.HashMap<>(properties);
    all.put("opschain.dev-worker", false); // the settings only: no worker polling
    try (ApplicationContext c = ApplicationContext.builder().properties(all).start()) {
      return c.getBean(WorkerConfig.class);
    }
  }

  @Test
  void byDefaultNobodyApprovesAnythingAndTheDestructiveGatesNeedTwo() {
    var policy = read(Map.of()).approvalPolicy();

    assertThat(policy.approvers()).isEmpty();
    assertThat(policy.anyoneMayApprove()).isFalse();
    assertThat(policy.skipGatesAllowed()).isFalse();
    assertThat(policy.secondApproverGates()).containsExactly("MANUAL_RESTORE", "FINALIZE");
  }

  @Test
  void theSettingsNameTheApproversAndTheGatesThatNeedTwo() {
    var policy =
        read(Map.of(
                "opschain.approvers", "alice,bob",
                "opschain.second-approver-gates", "finalize"))
            .approvalPolicy();

    assertThat(policy.approvers()).isEqualTo(List.of("alice", "bob"));
    assertThat(policy.secondApproverGates()).containsExactly("FINALIZE");
    assertThat(read(Map.of("opschain.second-approver-gates", "none")).approvalPolicy())
        .satisfies(p -> assertThat(p.secondApproverGates()).isEmpty());
  }

  @Test
  void theHostStartDefaultsToTenMinutesAndReachesTheWorkflowThroughClaimHost() {
    assertThat(read(Map.of()).hostStart()).isEqualTo(java.time.Duration.ofMinutes(10));
    WorkerConfig c = read(Map.of("opschain.host-start", "90s"));
    assertThat(c.hostStart()).isEqualTo(java.time.Duration.ofSeconds(90));
    // What the workflow gives this host's activities as their schedule-to-start.
    var claimed =
        new com.limepoint.opschain.dbupgrade.kube.HostActivitiesImpl(
                "h1", "q1", false, List.of(), null, null, null, c.hostStart().toSeconds())
            .claimHost(
                new com.limepoint.opschain.dbupgrade.activities.HostActivities.ClaimRequest("ns"));
    assertThat(claimed.hostStartSeconds()).isEqualTo(90);
  }

  @Test
  void helmProcessesDefaultFromTheMemoryLimitAndActivitySlotsFromTheSetting() {
    // 1 GiB (the deployment's limit): 512 MiB kept for the worker, 192 MiB per Helm JVM.
    assertThat(com.limepoint.opschain.dbupgrade.helm.HelmSlots.defaultFor(1L << 30)).isEqualTo(2);
    assertThat(com.limepoint.opschain.dbupgrade.helm.HelmSlots.defaultFor(512L << 20)).isEqualTo(1);
    assertThat(com.limepoint.opschain.dbupgrade.helm.HelmSlots.defaultFor(64L << 30)).isEqualTo(8);
    WorkerConfig unset = read(Map.of());
    assertThat(unset.helmProcessLimit())
        .isEqualTo(
            com.limepoint.opschain.dbupgrade.helm.HelmSlots.defaultFor(
                com.limepoint.opschain.dbupgrade.helm.HelmSlots.memoryLimit()));
    assertThat(unset.activitySlots()).isEqualTo(16);
    WorkerConfig set = read(Map.of("opschain.helm-processes", "3", "opschain.activity-slots", "4"));
    assertThat(set.helmProcessLimit()).isEqualTo(3);
    assertThat(set.activitySlots()).isEqualTo(4);
  }

  @Test
  void aWorkerThatLetsAnyoneApproveSaysSoAtStartAndAProductionOneSaysNothing() {
    var dev =
        read(Map.of("opschain.anyone-may-approve", true, "opschain.second-approver-gates", "none"))
            .approvalPolicy();
    var production = read(Map.of("opschain.approvers", "alice,bob")).approvalPolicy();

    assertThat(WorkerRunner.approvalPolicyWarnings(dev))
        .satisfiesExactly(
            w -> assertThat(w).startsWith("anyone who can reach Temporal may approve every gate"),
            w -> assertThat(w).startsWith("one approval decides MANUAL_RESTORE and FINALIZE"));
    assertThat(WorkerRunner.approvalPolicyWarnings(production)).isEmpty();
  }
}
