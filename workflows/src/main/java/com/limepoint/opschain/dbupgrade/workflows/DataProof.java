package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.CensusRequest;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.CensusResult;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.RehearsalRequest;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.RehearsalResult;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.Source;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.failure.ActivityFailure;
import io.temporal.workflow.Workflow;
import java.util.ArrayList;
import java.util.List;

/**
 * The proof that the data moved: the source census after OpsChain stopped, the restore rehearsal
 * before BACKUP_VERIFIED, the CNPG census after the import and after a manual restore, each
 * compared with the source. What the gates show and what blocks them comes from here: totals, table
 * names and reasons, never rows. Workflow code.
 */
final class DataProof {
  private static final org.slf4j.Logger log = Workflow.getLogger(DataProof.class);

  /** How long the rehearsal's pod may take to start, and PostgreSQL to recover the copy. */
  static final long REHEARSAL_TIMEOUT_SECONDS = 900;

  private final UpgradeSteps runbook;
  private CensusResult source;
  private RehearsalResult rehearsal;
  private boolean rehearsalStarted;
  private CensusResult parity;

  DataProof(UpgradeSteps runbook) {
    this.runbook = runbook;
  }

  /** The legacy database's census, with OpsChain stopped and the database up. */
  void sourceCensus() {
    UpgradeRequest req = runbook.facts().req();
    source =
        runbook.step(
            RunbookStep.SOURCE_CENSUS,
            () ->
                acts("census of " + req.namespace() + "/" + req.dbDeployment())
                    .census(census(Source.LEGACY_DEPLOYMENT, req.dbDeployment(), "source", null)),
            CensusResult::summary);
  }

  /**
   * The rehearsal, after the backup was verified: null when BACKUP_VERIFIED may be approved, else
   * why not and the way out. Skipped when the request says why.
   */
  String rehearse() {
    RunbookStep.Facts f = runbook.facts();
    UpgradeRequest req = f.req();
    if (req.skipRehearsal() != null) {
      runbook.step(RunbookStep.REHEARSE_RESTORE, () -> "skipped", r -> StepTexts.rehearsal(f));
      return null;
    }
    RehearsalRequest r = rehearsalRequest();
    rehearsalStarted = true;
    rehearsal =
        runbook.step(
            RunbookStep.REHEARSE_RESTORE,
            () -> acts("rehearse the restore in pod " + r.podName()).rehearseRestore(r),
            RehearsalResult::summary);
    return rehearsal.passed() ? null : rehearsal.problem() + ". Way out: " + rehearsal.wayOut();
  }

  /**
   * Before OpsChain is put back in service: deletes the rehearsal's pod when the rehearsal was
   * started and never returned (canceled or failed); the activity deletes it itself otherwise. A
   * failure here is logged, never in the way of putting OpsChain back in service.
   */
  void removeUnfinishedRehearsal() {
    if (!rehearsalStarted || rehearsal != null) {
      return;
    }
    try {
      acts("remove the rehearsal pod").removeRehearsalPod(rehearsalRequest());
    } catch (ActivityFailure e) {
      log.warn("could not remove the rehearsal pod: {}", Failures.describe(e));
    }
  }

  /**
   * The CNPG database's census compared with the source's, after the import or the manual restore:
   * null when equal, else the differences. A run continuing an earlier one compares with that run's
   * source census (census-source.tsv in its backup directory, where the continued run works).
   */
  String parity(RunbookStep step, String label) {
    UpgradeRequest req = runbook.facts().req();
    parity =
        runbook.step(
            step,
            () ->
                acts("census of CNPG cluster " + req.clusterName())
                    .census(census(Source.CNPG_CLUSTER, req.clusterName(), label, "source")),
            CensusResult::summary);
    return parity.comparison().equal()
        ? null
        : "the CNPG database differs from the source: " + parity.comparison().differences();
  }

  /** The lines BACKUP_VERIFIED shows about the data. */
  List<String> backupLines() {
    List<String> lines = new ArrayList<>();
    if (source != null) {
      lines.add("source census: " + source.summary() + " (" + source.file() + ")");
    }
    UpgradeRequest req = runbook.facts().req();
    if (req.skipRehearsal() != null) {
      lines.add("restore rehearsal SKIPPED by the request: " + req.skipRehearsal());
    } else if (rehearsal != null) {
      lines.add(
          rehearsal.passed()
              ? "restored once: " + rehearsal.census().comparison().summary()
              : "restore rehearsal FAILED: "
                  + rehearsal.problem()
                  + ". Way out: "
                  + rehearsal.wayOut()
                  + " (approving is refused)");
    }
    return lines;
  }

  /** The lines SERVICES_VERIFIED and FINALIZE show about the CNPG database. */
  List<String> parityLines() {
    return parity == null ? List.of() : List.of("parity: " + parity.summary());
  }

  private CensusRequest census(Source where, String name, String label, String baseline) {
    UpgradeRequest req = runbook.facts().req();
    return new CensusRequest(
        req.namespace(),
        where,
        name,
        req.database(),
        req.dbUser(),
        runbook.facts().hostDir(),
        label,
        baseline);
  }

  private RehearsalRequest rehearsalRequest() {
    RunbookStep.Facts f = runbook.facts();
    UpgradeRequest req = f.req();
    List<BackupFile> files = runbook.backup() == null ? List.of() : runbook.backup().files();
    long archives = files.stream().mapToLong(b -> b.hostBytes() == null ? 0 : b.hostBytes()).sum();
    long db = runbook.preflightResult() == null ? 0 : runbook.preflightResult().dbSizeBytes();
    // The uploads, the restored database with its WAL, a quarter more, and 256 MiB for the log.
    long scratch = archives + db + (archives + db) / 4 + (256L << 20);
    return new RehearsalRequest(
        req.namespace(),
        StepTexts.rehearsalPod(f),
        req.restoreImage(),
        req.dataOwner(),
        req.dbUser(),
        req.database(),
        f.hostDir(),
        files,
        scratch,
        REHEARSAL_TIMEOUT_SECONDS);
  }

  private DataCheckActivities acts(String summary) {
    return runbook.acts().dataCheck(summary);
  }
}
