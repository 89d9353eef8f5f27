package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * What each gate of {@link DbUpgradeWorkflowImpl} shows the person who approves it: what approving
 * does, the checks behind it, and the backup and values diff where they matter. Key paths, sizes
 * and hashes only; never values content.
 */
final class GateEvidences {
  private GateEvidences() {}

  static GateEvidence start(
      RunbookStep.Facts f,
      ClusterActivities.PreflightResult preflight,
      HelmActivities.ReleaseInfo release,
      String cluster,
      String clusterSource,
      Leftovers leftovers) {
    UpgradeRequest req = f.req();
    List<String> details = new ArrayList<>();
    details.addAll(leftovers.lines());
    if (leftovers.stopped()) {
      details.add(leftovers.approving(req));
      details.add("rejecting START: " + leftovers.rejecting(req));
    }
    details.addAll(preflight.checks());
    if (cluster != null) {
      details.add(
          "Kubernetes cluster "
              + cluster
              + " ("
              + (clusterSource == null ? "its identity as the worker reports it" : clusterSource)
              + "): every step runs on this cluster's workers only");
    }
    details.add(
        "release "
            + req.release()
            + " revision "
            + release.revision()
            + " at "
            + release.chartVersion());
    details.add(
        "database size "
            + preflight.dbSizeBytes()
            + " bytes; backup goes to "
            + f.host()
            + ":"
            + f.hostDir());
    return new GateEvidence(
        leftovers.stopped()
            ? "Preflight passed, over what an earlier run left: OpsChain in "
                + req.namespace()
                + " is already stopped. Approving goes on with the upgrade from here."
            : "Preflight passed. Approving stops OpsChain in "
                + req.namespace()
                + " (downtime begins).",
        details,
        null,
        null);
  }

  /** START of a run that continues an earlier run stopped after the point of no return. */
  static GateEvidence continuing(
      RunbookStep.Facts f,
      BackupEvidence backup,
      HelmActivities.ReleaseInfo release,
      Leftovers leftovers,
      String notVerified) {
    UpgradeRequest req = f.req();
    List<String> details = new ArrayList<>(leftovers.lines());
    details.add(
        "the legacy "
            + req.dbDeployment()
            + " deployment is still there: the earlier run did not finish (the point of no return"
            + " was passed, so nothing was undone)");
    details.add(
        notVerified != null
            ? "cannot continue: " + notVerified
            : "its backup, verified again on "
                + f.host()
                + ":"
                + f.hostDir()
                + " against the SHA256SUMS it wrote");
    details.add(
        "rejecting START: nothing is changed; release "
            + req.release()
            + " stays at "
            + release.chartVersion()
            + " as the earlier run left it");
    return new GateEvidence(
        "An earlier run ("
            + leftovers.earlierRun()
            + ") deployed "
            + release.chartVersion()
            + " and stopped after the point of no return. Approving continues it from the import:"
            + " awaitImport, checkParity, restartServices, then SERVICES_VERIFIED and FINALIZE.",
        details,
        backup,
        null);
  }

  /** The evidence with {@code more} lines after its details. */
  static GateEvidence withDetails(GateEvidence e, List<String> more) {
    if (more.isEmpty()) {
      return e;
    }
    List<String> details = new ArrayList<>(e.details());
    details.addAll(more);
    return new GateEvidence(e.summary(), details, e.backup(), e.valuesDiff());
  }

  static GateEvidence backupVerified(
      RunbookStep.Facts f, BackupEvidence backup, List<String> data) {
    return withDetails(backupVerified(f, backup), data);
  }

  static GateEvidence backupVerified(RunbookStep.Facts f, BackupEvidence backup) {
    return new GateEvidence(
        "Backup verified on "
            + f.host()
            + ":"
            + f.hostDir()
            + ". Approving deploys "
            + f.req().targetVersion()
            + " with db.recoveryMode (after this, abort no longer undoes).",
        backup.checks(),
        backup,
        f.migrationDiff());
  }

  static GateEvidence manualRestore(RunbookStep.Facts f, BackupEvidence backup, String failure) {
    return new GateEvidence(
        "The automatic import failed: "
            + failure
            + ". Approving deletes CNPG cluster "
            + f.req().clusterName()
            + " and restores it from the verified backup.",
        List.of(
            "backup: " + f.host() + ":" + f.hostDir(), "hibernation by " + f.req().hibernateBy()),
        backup,
        null);
  }

  static GateEvidence servicesVerified(RunbookStep.Facts f, BackupEvidence backup) {
    return new GateEvidence(
        "OpsChain "
            + f.req().targetVersion()
            + " was restarted on CNPG. Check it works: create a change or edit a project's properties.",
        List.of("restarted: " + String.join(", ", f.req().restartDeployments())),
        backup,
        null);
  }

  static GateEvidence finalize(RunbookStep.Facts f, BackupEvidence backup, String finalValues) {
    return new GateEvidence(
        "Approving redeploys without db.recoveryMode and db.volume; the legacy "
            + f.req().dbDeployment()
            + " deployment is then deleted.",
        List.of("final values: " + finalValues),
        backup,
        f.finalDiff());
  }

  static GateEvidence retryStep(
      RunbookStep.Facts f, BackupEvidence backup, RunbookStep step, String failure, String state) {
    return new GateEvidence(
        step.id()
            + " failed after the point of no return: "
            + failure
            + ". Nothing was undone. Approving runs "
            + step.id()
            + " again; rejecting ends the run here.",
        List.of(
            "state: " + state,
            "step: " + step.describe(f),
            "backup: " + f.host() + ":" + f.hostDir()),
        backup,
        null);
  }

  /** MANUAL_RESTORE's evidence with what the restore target check found. */
  static GateEvidence withRestoreTarget(
      GateEvidence evidence, RestorePodActivities.RestoreTargetCheck c) {
    List<String> details = new ArrayList<>(evidence.details());
    details.add(
        "restoreImage %s is PostgreSQL %s; the backup is PostgreSQL %s"
            .formatted(c.restoreImage(), c.imageMajor(), c.backupMajor()));
    details.add(
        "PVC %s: %s".formatted(c.pvcName(), c.pvcFound() ? "found, " + c.pvcLabels() : "absent"));
    c.problems().forEach(p -> details.add("cannot restore: " + p));
    return new GateEvidence(
        c.passes()
            ? evidence.summary()
            : evidence.summary() + " It cannot be approved as requested: " + c.problems(),
        details,
        evidence.backup(),
        evidence.valuesDiff());
  }

  /** The lines BACKUP_VERIFIED shows about the data: the source census and the rehearsal. */
  static List<String> dataLines(
      UpgradeRequest req,
      DataCheckActivities.CensusResult source,
      DataCheckActivities.RehearsalResult rehearsal) {
    List<String> lines = new ArrayList<>();
    if (source != null) {
      lines.add("source census: " + source.summary() + " (" + source.file() + ")");
    }
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
  static List<String> parityLines(DataCheckActivities.CensusResult parity) {
    return parity == null ? List.of() : List.of("parity: " + parity.summary());
  }

  /**
   * The Web UI's Current Details: the phase and message; while a gate is open, its name, what
   * approving does, the evidence lines and the exact commands that approve or reject it.
   */
  static String currentDetails(
      Phase phase, String message, OpenGate open, String namespace, String workflowId) {
    StringBuilder d = new StringBuilder("**" + phase + "** " + message);
    if (open != null) {
      String ns = namespace == null ? "<namespace>" : namespace;
      d.append("\n\n### Open gate: ").append(open.gate()).append("\n\n");
      d.append(open.question()).append("\n\n");
      if (open.evidence() != null) {
        d.append("**Approving:** ").append(open.evidence().summary()).append("\n\n");
        for (String line : open.evidence().details()) {
          d.append("- ").append(line).append("\n");
        }
      }
      d.append("\n**Approve** (or `reject`) with the client:\n\n`bin/opschain-upgrade approve ")
          .append(ns)
          .append(" --gate ")
          .append(open.gate())
          .append(" --opening ")
          .append(open.opening())
          .append(" --by <you> --comment '...'`\n\nor the temporal CLI:\n\n")
          .append("`temporal workflow update execute --workflow-id ")
          .append(workflowId)
          .append(" --name approveGate --input '{\"gate\":\"")
          .append(open.gate())
          .append("\",\"by\":\"<you>\",\"opening\":\"")
          .append(open.opening())
          .append("\"}'`");
    }
    return d.toString();
  }
}
