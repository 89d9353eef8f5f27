package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.micronaut.context.ApplicationContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The approval policy as the worker reads it from its settings. */
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
}
