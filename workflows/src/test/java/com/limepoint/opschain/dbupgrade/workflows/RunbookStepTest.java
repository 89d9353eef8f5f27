package com.limepoint.opschain.dbupgrade.workflows;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.PlannedChange;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunbookStepTest {

  static final RunbookStep.Facts FACTS =
      new RunbookStep.Facts(
          UpgradeRequests.validate(WorkflowTestSupport.request(), "opschain-db-upgrade-opschain"),
          "host-a",
          "/backup/wf-1/run-1",
          "+ recoveryMode: true",
          "- recoveryMode: true");

  @Test
  void everyStepHasOneIdAndADescriptionThatNamesItsTarget() {
    assertThat(Arrays.stream(RunbookStep.values()).map(RunbookStep::id))
        .doesNotHaveDuplicates()
        .allSatisfy(id -> assertThat(id).isNotBlank());
    assertThat(RunbookStep.values())
        .allSatisfy(s -> assertThat(s.describe(FACTS)).isNotBlank().doesNotContain("null"));
    assertThat(RunbookStep.SCALE_DB_UP.describe(FACTS)).contains("opschain-db");
    assertThat(RunbookStep.COPY_BACKUP_OUT.describe(FACTS)).contains("/backup/wf-1/run-1");
  }

  @Test
  void theDryRunPlansTheMainLineAndMarksOnlyTheDeploysThatPassThePointOfNoReturnDestructive() {
    List<PlannedChange> plan = RunbookStep.plan(FACTS);

    assertThat(plan)
        .extracting(PlannedChange::step)
        .containsExactly(
            "gate START",
            "stopOpsChain",
            "scaleDbUp",
            "sourceCensus",
            "takeBackup",
            "copyBackupOut",
            "rehearseRestore",
            "prepareMigrationValues",
            "gate BACKUP_VERIFIED",
            "upgradeRelease",
            "awaitImport",
            "checkParity",
            "restartServices",
            "gate SERVICES_VERIFIED",
            "prepareFinalValues",
            "gate FINALIZE",
            "finalizeUpgrade");
    assertThat(plan)
        .filteredOn(PlannedChange::destructive)
        .extracting(PlannedChange::step)
        .containsExactly("upgradeRelease", "finalizeUpgrade");
    assertThat(plan)
        .filteredOn(p -> p.step().equals("prepareMigrationValues"))
        .singleElement()
        .satisfies(p -> assertThat(p.change()).endsWith("+ recoveryMode: true"));
    // What the data checks create and remove is planned: the scratch pod and its emptyDir.
    assertThat(plan)
        .filteredOn(p -> p.step().equals("rehearseRestore"))
        .singleElement()
        .satisfies(p ->
            assertThat(p.change())
                .contains("create pod opschain-db-rehearsal", "emptyDir", "delete the pod"));
    assertThat(plan)
        .filteredOn(p -> p.step().equals("sourceCensus"))
        .singleElement()
        .satisfies(p -> assertThat(p.change()).contains("read-only", "census-source.tsv"));
    assertThat(plan)
        .filteredOn(p -> p.step().equals("copyBackupOut"))
        .singleElement()
        .satisfies(p -> assertThat(p.change()).contains("host-a:/backup/wf-1/run-1"));
  }

  @Test
  void theManualRestoreDestroysOnlyTheClusterAndPgdataAndEachPathKeepsRunbookOrder() {
    assertThat(RunbookStep.of(RunbookStep.Path.MANUAL_RESTORE))
        .filteredOn(RunbookStep::destructive)
        .containsExactly(RunbookStep.DELETE_CLUSTER, RunbookStep.RESTORE_PGDATA);
    assertThat(RunbookStep.range(RunbookStep.STOP_OPSCHAIN, RunbookStep.VERIFY_BACKUP))
        .extracting(RunbookStep::id)
        .containsExactly(
            "stopOpsChain",
            "awaitStopped",
            "scaleDbUp",
            "awaitDbReady",
            "sourceCensus",
            "takeBackup",
            "copyBackupOut",
            "verifyBackup");
    assertThat(RunbookStep.range(RunbookStep.UPGRADE_RELEASE, RunbookStep.RESTART_SERVICES))
        .as("the fallback's gate and child are not on the main line")
        .doesNotContain(RunbookStep.GATE_MANUAL_RESTORE, RunbookStep.MANUAL_RESTORE);
  }
}
