package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.RunbookStep.*;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.calls;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.ApprovalEntry;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.activity.Activity;
import io.temporal.api.enums.v1.EventType;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class DbUpgradeWorkflowTest {

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  static final List<String> PREFLIGHT = calls(CLAIM_HOST, CHECK_FINAL_VALUES);

  static final List<String> BEFORE_BACKUP_GATE = calls(STOP_OPSCHAIN, PREPARE_MIGRATION_VALUES);

  /** The compensation as it runs while the host is there (no scale-back without it). */
  static final List<String> COMPENSATION =
      calls(
          RunbookStep.of(RunbookStep.Path.COMPENSATION).stream()
              .filter(s -> s != RunbookStep.SCALE_BACK_WITHOUT_HOST)
              .toList());

  static final List<String> AFTER_IMPORT = calls(RESTART_SERVICES, AWAIT_LEGACY_DB_GONE);

  /** The manual restore as the runbook writes it, with hibernation through Helm. */
  static final List<String> MANUAL_RESTORE_BY_HELM =
      calls(
          RunbookStep.of(RunbookStep.Path.MANUAL_RESTORE).stream()
              .filter(s -> s != HIBERNATE_ON && s != HIBERNATE_OFF)
              .toList());

  final FakeActivities fakes = new FakeActivities();

  @Test
  void happyPathRunsTheRunbookInOrderAndOpensEveryGate(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());

    List<Gate> gatesSeen = new ArrayList<>();
    for (Gate gate :
        List.of(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE)) {
      UpgradeStatus s = awaitGate(wf, gate);
      gatesSeen.add(s.openGate().gate());
      if (gate == Gate.BACKUP_VERIFIED) {
        assertThat(s.openGate().evidence().backup().files())
            .extracting(f -> f.name())
            .containsExactly("base.tar.gz", "pg_wal.tar.gz", "backup_manifest");
        assertThat(s.openGate().evidence().valuesDiff()).contains("recoveryMode: true");
        assertThat(s.pointOfNoReturnPassed()).isFalse();
      }
      // Half the gates by update (validated), half by signal, as users do.
      if (gate.ordinal() % 2 == 0) {
        UpgradeStatus after = wf.approveGate(new GateDecision(gate.name(), "alice", "ok"));
        assertThat(after.approvals()).extracting(ApprovalEntry::gate).contains(gate.name());
      } else {
        wf.approve(new GateDecision(gate.name(), "bob", "looks good"));
      }
    }
    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(gatesSeen)
        .containsExactly(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE);
    List<String> expected = new ArrayList<>(PREFLIGHT);
    expected.addAll(BEFORE_BACKUP_GATE);
    expected.addAll(calls(UPGRADE_RELEASE, CHECK_PARITY));
    expected.addAll(AFTER_IMPORT);
    assertThat(fakes.calls()).containsExactlyElementsOf(expected);
    assertThat(report.outcome()).isEqualTo(Outcome.COMPLETED);
    assertThat(report.backup().passesVerification()).isTrue();
    assertThat(report.approvals())
        .extracting(ApprovalEntry::gate, ApprovalEntry::decision, ApprovalEntry::by)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("START", "APPROVED", "alice"),
            org.assertj.core.groups.Tuple.tuple("BACKUP_VERIFIED", "APPROVED", "bob"),
            org.assertj.core.groups.Tuple.tuple("SERVICES_VERIFIED", "APPROVED", "bob"),
            org.assertj.core.groups.Tuple.tuple("FINALIZE", "APPROVED", "alice"));
    // The status lists the table's main line, in its order, every step done.
    assertThat(report.steps())
        .extracting(s -> s.name())
        .containsExactlyElementsOf(
            RunbookStep.of(RunbookStep.Path.UPGRADE).stream().map(RunbookStep::id).toList());
    assertThat(report.steps()).allSatisfy(s -> assertThat(s.state()).isEqualTo(StepState.DONE));
    assertThat(report.steps())
        .filteredOn(s -> s.name().equals("finalizeUpgrade"))
        .singleElement()
        .satisfies(s -> assertThat(s.state()).isEqualTo(StepState.DONE));
    // Helm deploys use the right versions and values: stop on current, the rest on target.
    List<HelmActivities.UpgradeRequest> helm =
        fakes.arguments().stream()
            .filter(HelmActivities.UpgradeRequest.class::isInstance)
            .map(HelmActivities.UpgradeRequest.class::cast)
            .toList();
    assertThat(helm.get(0).version()).isEqualTo(FakeActivities.DEPLOYED_VERSION);
    assertThat(helm.get(0).set()).containsEntry("stopped", "true");
    assertThat(helm.get(1).valuesFiles())
        .singleElement()
        .asString()
        .endsWith("values.migration.yaml");
    assertThat(helm.get(2).valuesFiles()).singleElement().asString().endsWith("values.final.yaml");
    WorkflowTestSupport.exportHistory(client, UpgradeRequests.workflowId("opschain"), "happy-path");
  }

  @Test
  void releaseAlreadyOnCnpgIsSkippedWithoutChanges(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.helm.releaseStatus(any()))
        .thenReturn(new HelmActivities.ReleaseInfo(true, "2026-01-27", 3, "deployed", ""));
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request());

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.SKIPPED);
    assertThat(report.reason()).contains("2026-01-27");
    assertThat(fakes.calls())
        .containsExactly("Host.claimHost", "Helm.releaseStatus", "Cluster.preflight");
  }

  @Test
  void cnpgServingWithoutLegacyDbIsSkippedWithoutChanges(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.cluster.preflight(any()))
        .thenReturn(new ClusterActivities.PreflightResult(false, true, 0, List.of()));
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request());

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.SKIPPED);
    assertThat(report.reason()).contains("already serves");
    assertThat(fakes.calls())
        .containsExactly("Host.claimHost", "Helm.releaseStatus", "Cluster.preflight");
  }

  @Test
  void badInputFailsWithInvalidRequestNamingTheFieldsAndRunsNoActivity(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    // Raw JSON, as `temporal workflow start --input` sends it, with a typo'd field name.
    Map<String, Object> bad =
        Map.of(
            "namespace", "opschain",
            "release", "Bad_Release",
            "chart", "opschain/opschain",
            "currentVersion", "2025-10-01",
            "targetVersion", "2026-02-10",
            "valuesFile", "/etc/../values.yaml",
            "gateTimeout", "soon",
            "namspace", "typo");
    client
        .newUntypedWorkflowStub(
            "DbUpgradeWorkflow",
            WorkflowOptions.newBuilder()
                .setTaskQueue(worker.getTaskQueue())
                .setWorkflowId(UpgradeRequests.workflowId("opschain"))
                .build())
        .start(bad);

    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> result(client, "opschain"));
    ApplicationFailure failure = (ApplicationFailure) e.getCause();
    assertThat(failure.getType()).isEqualTo(FailureTypes.INVALID_REQUEST);
    assertThat(failure.isNonRetryable()).isTrue();
    assertThat(failure.getOriginalMessage())
        .contains("release:", "valuesFile:", "gateTimeout:", "namspace: unknown field");
    assertThat(fakes.calls()).isEmpty();
  }

  @Test
  void searchAttributesFollowThePhaseWhenTheWorkerSaysTheyAreRegistered(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    env.registerSearchAttribute(
        "OpsChainNamespace", io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    env.registerSearchAttribute(
        "UpgradePhase", io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    fakes.register(env, worker);
    when(fakes.host.claimHost(any()))
        .thenReturn(new HostActivities.HostQueue("test-host", FakeActivities.HOST_QUEUE, true));
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    String id = UpgradeRequests.workflowId("opschain");

    awaitGate(wf, Gate.START);
    var atGate = client.newUntypedWorkflowStub(id).describe().getTypedSearchAttributes();
    assertThat(atGate.get(DbUpgradeWorkflowImpl.OPSCHAIN_NAMESPACE)).isEqualTo("opschain");
    assertThat(atGate.get(DbUpgradeWorkflowImpl.UPGRADE_PHASE)).isEqualTo("AWAITING_APPROVAL");

    wf.reject(new GateDecision(Gate.START.name(), "alice", "not today"));
    result(client, "opschain");
    var atEnd = client.newUntypedWorkflowStub(id).describe().getTypedSearchAttributes();
    assertThat(atEnd.get(DbUpgradeWorkflowImpl.UPGRADE_PHASE))
        .isEqualTo(wf.status().phase().name())
        .isNotEqualTo("AWAITING_APPROVAL");
    assertThat(
            WorkflowTestSupport.countEvents(
                client, id, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES))
        .isGreaterThan(2);
    WorkflowTestSupport.exportHistory(client, id, "search-attributes");
  }

  @Test
  void theWorkersDefaultApproversApplyWhenTheRequestNamesNone(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    when(fakes.host.claimHost(any()))
        .thenReturn(
            new HostActivities.HostQueue(
                "test-host", FakeActivities.HOST_QUEUE, false, List.of("carol")));
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());

    UpgradeStatus s = awaitGate(wf, Gate.START);
    assertThat(s.openGate().approvers()).containsExactly("carol");
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("START", "alice", "ok")))
        .hasStackTraceContaining("'alice' is not an approver (approvers: carol)");
    UpgradeStatus after = wf.approveGate(new GateDecision("START", "carol", "ok"));
    assertThat(after.approvals()).extracting(ApprovalEntry::by).containsExactly("carol");
  }

  @Test
  void withoutRegisteredSearchAttributesNoneIsSet(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.reject(new GateDecision(Gate.START.name(), "alice", "not today"));
    result(client, "opschain");
    String id = UpgradeRequests.workflowId("opschain");
    assertThat(
            WorkflowTestSupport.countEvents(
                client, id, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES))
        .isZero();
  }

  @Test
  void workflowIdMustMatchTheNamespace(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf =
        client.newWorkflowStub(
            DbUpgradeWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(worker.getTaskQueue())
                .setWorkflowId("my-own-id")
                .build());

    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> wf.run(request()));

    assertThat(((ApplicationFailure) e.getCause()).getOriginalMessage())
        .contains("opschain-db-upgrade-opschain");
    assertThat(fakes.calls()).isEmpty();
  }

  @Test
  void rejectAtStartEndsAbortedWithNothingChanged(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.reject(new GateDecision("START", "alice", "not today"));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("rejected by alice", "nothing was changed");
    assertThat(fakes.calls()).containsExactlyElementsOf(PREFLIGHT);
  }

  @Test
  void startGateTimeoutEndsAbortedWithNothingChanged(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request());

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("START timed out");
    assertThat(fakes.calls()).containsExactlyElementsOf(PREFLIGHT);
  }

  @Test
  void rejectAtBackupVerifiedPutsOpsChainBackOnTheCurrentVersion(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));
    awaitGate(wf, Gate.BACKUP_VERIFIED);
    wf.reject(new GateDecision("BACKUP_VERIFIED", "alice", "checksums look odd"));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertCompensated(report, "rejected by alice");
  }

  @Test
  void backupGateTimeoutPutsOpsChainBackOnTheCurrentVersion(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));
    awaitGate(wf, Gate.BACKUP_VERIFIED);

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertCompensated(report, "BACKUP_VERIFIED timed out");
  }

  @Test
  void abortDuringTheBackupCancelsItAndPutsOpsChainBack(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    java.util.concurrent.CountDownLatch backupRunning = new java.util.concurrent.CountDownLatch(1);
    when(fakes.backup.takeBackup(any()))
        .thenAnswer(inv -> {
          backupRunning.countDown();
          // A long pg_basebackup: heartbeats until the workflow cancels it.
          for (int i = 0; i < 1000; i++) {
            Activity.getExecutionContext().heartbeat(i);
            Thread.sleep(20);
          }
          throw new AssertionError("the backup was not cancelled");
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));
    try {
      assertThat(backupRunning.await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    wf.abort(new AbortRequest("alice", "maintenance window closed"));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("aborted by alice", "back in service on 2025-10-01");
    assertThat(fakes.calls())
        .containsSequence(
            "Backup.takeBackup", "Helm.upgrade:putBackInService", "Cluster.awaitRolloutComplete")
        .doesNotContain("Helm.upgrade:upgradeRelease", "Backup.copyBackupOut");
  }

  @Test
  void failedBackupPutsOpsChainBackAndFailsWithTheCause(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.backup.takeBackup(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure(
                "pg_basebackup exited 1", FailureTypes.BACKUP_FAILED));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));

    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> result(client, "opschain"));

    ApplicationFailure failure = (ApplicationFailure) e.getCause();
    assertThat(failure.getType()).isEqualTo(FailureTypes.BACKUP_FAILED);
    assertThat(failure.getOriginalMessage()).contains("back in service on 2025-10-01");
    assertThat(fakes.calls())
        .endsWith(
            "Backup.takeBackup",
            "Helm.upgrade:putBackInService",
            "Cluster.awaitRolloutComplete",
            "Cluster.checkDatabaseBack");
  }

  @Test
  void migrationValuesThatCannotHoldTheImportDumpPutOpsChainBackBeforeAnyDeploy(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    org.mockito.Mockito.doAnswer(
            inv -> {
              ValuesActivities.ValuesRequest r = inv.getArgument(0);
              if (!r.dryRun() && r.kind() == ValuesActivities.Kind.MIGRATION) {
                throw ApplicationFailure.newNonRetryableFailure(
                    "values.yaml: db.cnpg.storage.size is smaller than the database plus the dump",
                    FailureTypes.INVALID_VALUES);
              }
              return new ValuesActivities.ValuesResult(r.outputDir() + "/v.yaml", "");
            })
        .when(fakes.values)
        .prepareValues(any());
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));

    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> result(client, "opschain"));

    ApplicationFailure failure = (ApplicationFailure) e.getCause();
    assertThat(failure.getType()).isEqualTo(FailureTypes.INVALID_VALUES);
    assertThat(failure.getOriginalMessage()).contains("back in service on 2025-10-01");
    assertThat(fakes.calls())
        .endsWith(
            "Values.prepareValues:MIGRATION",
            "Helm.upgrade:putBackInService",
            "Cluster.awaitRolloutComplete",
            "Cluster.checkDatabaseBack")
        .noneMatch(c -> c.equals("Helm.upgrade:upgradeRelease"));
    // The write asked for room for the database (preflight's size) and the dump beside it (the
    // verified base archive's size); the dry run at preflight for the database alone.
    List<ValuesActivities.ValuesRequest> asked =
        fakes.arguments().stream()
            .filter(ValuesActivities.ValuesRequest.class::isInstance)
            .map(ValuesActivities.ValuesRequest.class::cast)
            .filter(r -> r.kind() == ValuesActivities.Kind.MIGRATION)
            .toList();
    assertThat(asked)
        .extracting(ValuesActivities.ValuesRequest::dryRun)
        .containsExactly(true, false);
    assertThat(asked.get(0).minStorageBytes()).isEqualTo(1_000_000L);
    assertThat(asked.get(0).importDumpBytes()).isZero();
    assertThat(asked.get(1).minStorageBytes()).isEqualTo(1_000_000L);
    assertThat(asked.get(1).importDumpBytes()).isEqualTo(4096L);
  }

  @Test
  void aCompensationOverADatabaseThatDoesNotAnswerFailsInsteadOfClaimingService(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.cluster.checkDatabaseBack(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure(
                "the legacy database is not back in service after 60 s: PostgreSQL in pod"
                    + " opschain/opschain-db-7d9f does not answer a query",
                FailureTypes.DATABASE_NOT_IN_SERVICE));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));
    awaitGate(wf, Gate.BACKUP_VERIFIED);
    wf.reject(new GateDecision("BACKUP_VERIFIED", "alice", "not today"));

    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> result(client, "opschain"));

    ApplicationFailure failure = (ApplicationFailure) e.getCause();
    assertThat(failure.getType()).isEqualTo(FailureTypes.DATABASE_NOT_IN_SERVICE);
    assertThat(failure.getOriginalMessage())
        .contains("NOT back in service", "does not answer a query", "verified backup is at")
        .doesNotContain("OpsChain is back in service");
    assertThat(wf.status().phase()).isEqualTo(Phase.FAILED);
    assertThat(fakes.calls()).endsWith(COMPENSATION.toArray(String[]::new));
  }

  @Test
  void importFailureOffersManualRestoreBehindGateThenFinalizes(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.cnpg.awaitImport(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure(
                "import pod opschain-db-1-import failed", FailureTypes.IMPORT_FAILED));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approve(wf, Gate.START, Gate.BACKUP_VERIFIED);
    UpgradeStatus atRestore = awaitGate(wf, Gate.MANUAL_RESTORE);
    assertThat(atRestore.openGate().evidence().summary()).contains("opschain-db-1-import failed");
    assertThat(atRestore.pointOfNoReturnPassed()).isTrue();
    approve(wf, Gate.MANUAL_RESTORE, Gate.SERVICES_VERIFIED, Gate.FINALIZE);

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.COMPLETED);
    assertThat(report.manualRestore()).isTrue();
    List<String> expected = new ArrayList<>(PREFLIGHT);
    expected.addAll(BEFORE_BACKUP_GATE);
    expected.addAll(calls(UPGRADE_RELEASE, AWAIT_IMPORT));
    expected.addAll(calls(BACKUP_PG_VERSION, CHECK_RESTORE_TARGET));
    expected.addAll(MANUAL_RESTORE_BY_HELM);
    expected.addAll(calls(List.of(CHECK_RESTORED_PARITY)));
    expected.addAll(AFTER_IMPORT);
    assertThat(fakes.calls()).containsExactlyElementsOf(expected);
    // The runbook's stopped redeploy hibernates the database through Helm by default.
    assertThat(helmSet("redeployStopped"))
        .containsEntry("stopped", "true")
        .containsEntry("stopDatabase", "true");
    assertThat(helmSet("redeployRunning")).isEmpty();
    WorkflowTestSupport.exportHistory(
        client, UpgradeRequests.workflowId("opschain"), "manual-restore-parent");
    WorkflowTestSupport.exportHistory(
        client, UpgradeRequests.workflowId("opschain") + "-manual-restore", "manual-restore-child");
  }

  @Test
  void hibernationByAnnotationTogglesTheAnnotationInsteadOfStopDatabase(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.cnpg.awaitImport(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure("unrecoverable", FailureTypes.IMPORT_FAILED));
    fakes.register(env, worker);
    UpgradeRequest r =
        UpgradeRequest.fromJson(
            Map.of(
                "namespace",
                "opschain",
                "release",
                "opschain",
                "chart",
                "opschain/opschain",
                "currentVersion",
                "2025-10-01",
                "targetVersion",
                "2026-02-10",
                "valuesFile",
                "/etc/opschain/values.yaml",
                "hibernateBy",
                "annotation",
                "skipGates",
                true));
    start(client, worker.getTaskQueue(), r);

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.COMPLETED);
    assertThat(fakes.calls())
        .containsSubsequence(
            "Helm.upgrade:redeployStopped",
            "Cnpg.setHibernation:on",
            "Cnpg.awaitDbPodGone",
            "RestorePod.deleteRestorePod",
            "Cnpg.setHibernation:off",
            "Cnpg.awaitClusterHealthy")
        .doesNotContain("Helm.upgrade:redeployWithoutStopDatabase");
    assertThat(helmSet("redeployStopped")).doesNotContainKey("stopDatabase");
    assertThat(report.approvals()).extracting(ApprovalEntry::via).containsOnly("skipGates");
  }

  @Test
  void unusableValuesFailBeforeTheStartGateAndChangeNothing(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    org.mockito.Mockito.doThrow(
            ApplicationFailure.newNonRetryableFailure(
                "values.yaml: db.cnpg.storage.size 10Gi (10737418240 bytes) is smaller than the"
                    + " database (12884901888 bytes)",
                FailureTypes.INVALID_VALUES))
        .when(fakes.values)
        .prepareValues(any());
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request());

    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class, () -> result(client, "opschain"));

    assertThat(Failures.describe(e.getCause())).contains("InvalidValues", "smaller than");
    assertThat(fakes.calls())
        .endsWith("Values.prepareValues:MIGRATION")
        .noneMatch(c -> c.startsWith("Helm.upgrade"));
    ValuesActivities.ValuesRequest checked =
        (ValuesActivities.ValuesRequest) fakes.arguments().get(fakes.arguments().size() - 1);
    assertThat(checked.dryRun()).isTrue();
    assertThat(checked.minStorageBytes()).isEqualTo(1_000_000L);
  }

  @Test
  void unauthorizedApproverIsRejectedByTheUpdateAndTheirSignalIsIgnoredAndLogged(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf =
        start(client, worker.getTaskQueue(), request().withApprovers(List.of("alice", "bob")));
    awaitGate(wf, Gate.START);

    assertThatThrownBy(() -> wf.approveGate(new GateDecision("START", "mallory", "let me")))
        .isInstanceOf(WorkflowUpdateException.class)
        .satisfies(e ->
            assertThat(refusal(e))
                .isEqualTo("'mallory' is not an approver (approvers: alice, bob)"));
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("FINALIZE", "alice", null)))
        .isInstanceOf(WorkflowUpdateException.class)
        .satisfies(
            e -> assertThat(refusal(e)).isEqualTo("gate FINALIZE is not open (open gate: START)"));
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("LAUNCH", "alice", null)))
        .isInstanceOf(WorkflowUpdateException.class)
        .satisfies(e -> assertThat(refusal(e)).startsWith("unknown gate 'LAUNCH'"));
    wf.approve(new GateDecision("START", "mallory", "signal instead"));
    UpgradeStatus s = wf.status();

    assertThat(s.openGate().gate()).isEqualTo(Gate.START);
    assertThat(s.approvals())
        .singleElement()
        .satisfies(a -> {
          assertThat(a.by()).isEqualTo("mallory");
          assertThat(a.decision()).isEqualTo("IGNORED");
          assertThat(a.note()).contains("not an approver");
        });
    assertThat(fakes.calls()).containsExactlyElementsOf(PREFLIGHT);
    wf.reject(new GateDecision("START", "alice", "cleanup"));
    assertThat(result(client, "opschain").outcome()).isEqualTo(Outcome.ABORTED);
  }

  @Test
  void aSecondStartForTheSameNamespaceIsRefused(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow first = start(client, worker.getTaskQueue(), request());
    awaitGate(first, Gate.START);

    DbUpgradeWorkflow second =
        WorkflowTestSupport.newStub(client, worker.getTaskQueue(), "opschain");
    assertThatThrownBy(() -> WorkflowClient.start(second::run, request()))
        .isInstanceOf(WorkflowExecutionAlreadyStarted.class);
    first.reject(new GateDecision("START", "alice", null));
    assertThat(result(client, "opschain").outcome()).isEqualTo(Outcome.ABORTED);
  }

  @Test
  void dryRunReturnsThePlanAndMutatesNothing(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    start(client, worker.getTaskQueue(), request().withDryRun(true));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.PLANNED);
    assertThat(fakes.calls())
        .containsExactly(
            "Host.claimHost",
            "Helm.releaseStatus",
            "Cluster.preflight",
            "Backup.checkFreeSpace",
            "Values.prepareValues:MIGRATION",
            "Values.prepareValues:FINAL");
    assertThat(fakes.arguments())
        .filteredOn(ValuesActivities.ValuesRequest.class::isInstance)
        .allSatisfy(v -> assertThat(((ValuesActivities.ValuesRequest) v).dryRun()).isTrue());
    assertThat(report.plan())
        .extracting(p -> p.step())
        .contains("stopOpsChain", "takeBackup", "upgradeRelease", "finalizeUpgrade");
    assertThat(report.plan())
        .filteredOn(p -> p.destructive())
        .extracting(p -> p.step())
        .containsExactly("upgradeRelease", "finalizeUpgrade");
  }

  @Test
  void rejectAfterThePointOfNoReturnStopsWithoutUndoing(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approve(wf, Gate.START, Gate.BACKUP_VERIFIED);
    awaitGate(wf, Gate.SERVICES_VERIFIED);
    wf.reject(new GateDecision("SERVICES_VERIFIED", "alice", "UI shows errors"));

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("rejected by alice", "nothing was undone");
    assertThat(fakes.calls())
        .doesNotContain("Helm.upgrade:putBackInService", "Helm.upgrade:finalizeUpgrade");
  }

  @Test
  void abortAfterThePointOfNoReturnStopsAtTheNextGate(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    java.util.concurrent.CountDownLatch importing = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch aborted = new java.util.concurrent.CountDownLatch(1);
    when(fakes.cnpg.awaitImport(any()))
        .thenAnswer(inv -> {
          importing.countDown();
          aborted.await(20, java.util.concurrent.TimeUnit.SECONDS);
          return new CnpgActivities.ImportResult("Cluster in healthy state", 1, 1, 5, List.of());
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    approve(wf, Gate.START, Gate.BACKUP_VERIFIED);
    try {
      assertThat(importing.await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      wf.abort(new AbortRequest("alice", "change freeze"));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    } finally {
      aborted.countDown();
    }

    UpgradeReport report = result(client, WorkflowTestSupport.NAMESPACE);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("aborted by alice: change freeze", "nothing was undone");
    // The running import finished and the restart ran; it stopped at SERVICES_VERIFIED.
    assertThat(fakes.calls())
        .endsWith(
            "Cnpg.awaitImport",
            "DataCheck.census:cnpg",
            "Cluster.rolloutRestart",
            "Cluster.awaitRolloutComplete")
        .doesNotContain("Helm.upgrade:putBackInService");
  }

  @Test
  void progressOfTheRunningStepShowsInStatusAndGoesWithIt(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) throws Exception {
    java.util.concurrent.CountDownLatch reported = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch seen = new java.util.concurrent.CountDownLatch(1);
    when(fakes.backup.takeBackup(any()))
        .thenAnswer(inv -> {
          // What a long activity does at a milestone: signal the workflow it belongs to.
          client
              .newUntypedWorkflowStub(Activity.getExecutionContext().getInfo().getWorkflowId())
              .signal(
                  "progress",
                  new com.limepoint.opschain.dbupgrade.model.Progress(
                      "takeBackup",
                      40.0,
                      400L,
                      1000L,
                      "40%",
                      List.of("pg_basebackup: 400/1000 kB (40%)"),
                      "t"));
          reported.countDown();
          seen.await(20, java.util.concurrent.TimeUnit.SECONDS);
          return new com.limepoint.opschain.dbupgrade.activities.BackupActivities.PodBackup(
              "opschain-db-7d9f", "/tmp/backup", FakeActivities.FILES, false);
        });
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    awaitGate(wf, Gate.START);
    wf.approve(new GateDecision("START", "alice", null));
    assertThat(reported.await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    UpgradeStatus during = null;
    for (int i = 0; i < 100 && (during == null || during.progress() == null); i++) {
      during = wf.status();
      Thread.sleep(20);
    }
    // A milestone for a step that is not running is ignored.
    wf.reportProgress(
        new com.limepoint.opschain.dbupgrade.model.Progress(
            "awaitImport", 99.0, null, null, "stale", List.of(), "t"));
    UpgradeStatus after = wf.status();
    seen.countDown();
    UpgradeStatus atGate = awaitGate(wf, Gate.BACKUP_VERIFIED);

    assertThat(during.phase()).isEqualTo(Phase.BACKING_UP);
    assertThat(during.progress().step()).isEqualTo("takeBackup");
    assertThat(during.progress().percent()).isEqualTo(40.0);
    assertThat(during.progress().lastLogLines())
        .containsExactly("pg_basebackup: 400/1000 kB (40%)");
    assertThat(after.progress().step()).isEqualTo("takeBackup");
    assertThat(atGate.progress()).isNull();
    wf.reject(new GateDecision("BACKUP_VERIFIED", "alice", null));
    result(client, "opschain");
  }

  @Test
  void aLongImportAddsNoHistoryEvents(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    // The import is watched inside one heartbeating activity. The fake polls the cluster once per
    // simulated minute: 1 poll for a 1-minute import, 600 for a 10-hour one.
    int[] polls = {1};
    when(fakes.cnpg.awaitImport(any()))
        .thenAnswer(inv -> {
          for (int minute = 0; minute < polls[0]; minute++) {
            Activity.getExecutionContext().heartbeat("minute " + minute);
          }
          return new CnpgActivities.ImportResult(
              "Cluster in healthy state", 1, 1, polls[0] * 60_000L, List.of());
        });
    fakes.register(env, worker);

    start(client, worker.getTaskQueue(), request().withSkipGates(true));
    result(client, "opschain");
    int oneMinute = WorkflowTestSupport.historyLength(client, "opschain-db-upgrade-opschain");

    polls[0] = 600;
    start(client, worker.getTaskQueue(), request().withSkipGates(true));
    result(client, "opschain");
    int tenHours = WorkflowTestSupport.historyLength(client, "opschain-db-upgrade-opschain");

    System.out.printf(
        "history events: 1-minute import = %d, 10-hour import = %d%n", oneMinute, tenHours);
    assertThat(tenHours).isEqualTo(oneMinute);
  }

  private void assertCompensated(UpgradeReport report, String why) {
    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains(why, "back in service on 2025-10-01");
    List<String> expected = new ArrayList<>(PREFLIGHT);
    expected.addAll(BEFORE_BACKUP_GATE);
    expected.addAll(COMPENSATION);
    assertThat(fakes.calls()).containsExactlyElementsOf(expected);
    HelmActivities.UpgradeRequest back =
        fakes.arguments().stream()
            .filter(HelmActivities.UpgradeRequest.class::isInstance)
            .map(HelmActivities.UpgradeRequest.class::cast)
            .filter(u -> u.step().equals("putBackInService"))
            .findFirst()
            .orElseThrow();
    assertThat(back.version()).isEqualTo(FakeActivities.DEPLOYED_VERSION);
    assertThat(back.set()).doesNotContainKey("stopped");
    assertThat(back.valuesFiles()).containsExactly("/etc/opschain/values.yaml");
  }

  private Map<String, String> helmSet(String step) {
    return fakes.arguments().stream()
        .filter(HelmActivities.UpgradeRequest.class::isInstance)
        .map(HelmActivities.UpgradeRequest.class::cast)
        .filter(u -> u.step().equals(step))
        .findFirst()
        .orElseThrow()
        .set();
  }

  /** The validator's words, as the caller of the update sees them. */
  private static String refusal(Throwable e) {
    return ((ApplicationFailure) e.getCause()).getOriginalMessage();
  }

  private static void approve(DbUpgradeWorkflow wf, Gate... gates) {
    for (Gate g : gates) {
      awaitGate(wf, g);
      wf.approveGate(new GateDecision(g.name(), "alice", null));
    }
  }

  @SuppressWarnings("unused")
  private static final Class<?>[] USED = {
    ActivityFailure.class, RestorePodActivities.class, Phase.class
  };
}
