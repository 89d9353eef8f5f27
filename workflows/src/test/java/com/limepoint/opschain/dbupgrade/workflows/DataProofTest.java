package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the data checks decide: a rehearsal that did not pass keeps BACKUP_VERIFIED closed, a
 * difference after the import offers MANUAL_RESTORE, a difference after it keeps FINALIZE closed
 * with the legacy database in place, and a skipped rehearsal is recorded and shown.
 */
class DataProofTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  final FakeActivities fakes = new FakeActivities();

  static DataCheckActivities.CensusResult differing(DataCheckActivities.CensusRequest r) {
    return new DataCheckActivities.CensusResult(
        r.label(),
        "opschain-db-1",
        r.database(),
        3,
        19_990,
        3,
        "/b/census-" + r.label() + ".tsv",
        "ee55",
        new DataCheckActivities.Comparison(
            "source", false, 3, List.of("public.items: 19990 rows, 20000 in source")));
  }

  static void approve(DbUpgradeWorkflow wf, Gate gate, String by) {
    awaitGate(wf, gate);
    wf.approveGate(new GateDecision(gate.name(), by, null));
  }

  @Test
  void aRehearsalThatDidNotPassKeepsBackupVerifiedClosed(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.dataCheck.rehearseRestore(any()))
        .thenReturn(
            new DataCheckActivities.RehearsalResult(
                false,
                "opschain-db-rehearsal",
                "postgres (PostgreSQL) 15.6",
                null,
                9,
                null,
                "PostgreSQL did not start on the restored backup",
                "reject BACKUP_VERIFIED and start a new upgrade"));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approve(wf, Gate.START, "alice");
    UpgradeStatus at = awaitGate(wf, Gate.BACKUP_VERIFIED);

    assertThat(at.openGate().evidence().details())
        .anyMatch(d ->
            d.startsWith("restore rehearsal FAILED: PostgreSQL did not start")
                && d.contains("Way out: reject BACKUP_VERIFIED"));
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("BACKUP_VERIFIED", "bob", null)))
        .hasStackTraceContaining("cannot be approved: PostgreSQL did not start");
    wf.approve(new GateDecision("BACKUP_VERIFIED", "bob", null));
    wf.reject(new GateDecision("BACKUP_VERIFIED", "bob", "does not restore"));
    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(fakes.calls()).doesNotContain("Helm.upgrade:upgradeRelease");
    assertThat(fakes.calls()).contains("Helm.upgrade:putBackInService");
  }

  @Test
  void aDifferenceAfterTheManualRestoreKeepsFinalizeClosedAndTheLegacyDatabase(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.dataCheck.census(any()))
        .thenAnswer(inv -> {
          DataCheckActivities.CensusRequest r = inv.getArgument(0);
          return r.baseline() == null || r.label().equals("rehearsal")
              ? FakeActivities.census(r)
              : differing(r);
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approve(wf, Gate.START, "alice");
    approve(wf, Gate.BACKUP_VERIFIED, "bob");
    UpgradeStatus offered = awaitGate(wf, Gate.MANUAL_RESTORE);
    assertThat(offered.openGate().evidence().summary())
        .contains("differs from the source", "public.items: 19990 rows, 20000 in source");
    approve(wf, Gate.MANUAL_RESTORE, "alice");
    approve(wf, Gate.SERVICES_VERIFIED, "bob");
    UpgradeStatus atFinalize = awaitGate(wf, Gate.FINALIZE);

    assertThat(atFinalize.openGate().evidence().details())
        .anyMatch(d -> d.startsWith("parity: restored:") && d.contains("public.items"));
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("FINALIZE", "alice", null)))
        .hasStackTraceContaining("cannot be approved: the CNPG database differs from the source");
    wf.reject(new GateDecision("FINALIZE", "alice", "rows missing"));
    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(fakes.calls())
        .contains("DataCheck.census:cnpg", "DataCheck.census:restored")
        .doesNotContain("Helm.upgrade:finalizeUpgrade");
  }

  @Test
  void aSkippedRehearsalIsRecordedAndShownAtBackupVerified(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    UpgradeRequest req =
        UpgradeRequest.fromJson(
            new java.util.HashMap<>(
                java.util.Map.of(
                    "namespace", "opschain",
                    "release", "opschain",
                    "chart", "opschain/opschain",
                    "currentVersion", FakeActivities.DEPLOYED_VERSION,
                    "targetVersion", "2026-02-10",
                    "valuesFile", "/etc/opschain/values.yaml",
                    "skipRehearsal", "no room for a scratch pod; restore tested on staging")));
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), req);
    approve(wf, Gate.START, "alice");
    UpgradeStatus at = awaitGate(wf, Gate.BACKUP_VERIFIED);

    assertThat(at.openGate().evidence().details())
        .contains(
            "restore rehearsal SKIPPED by the request: no room for a scratch pod; restore tested"
                + " on staging");
    assertThat(at.steps())
        .filteredOn(s -> s.name().equals("rehearseRestore"))
        .singleElement()
        .satisfies(s -> assertThat(s.summary()).startsWith("skipped: no room"));
    assertThat(fakes.calls()).doesNotContain("DataCheck.rehearseRestore");
  }
}
