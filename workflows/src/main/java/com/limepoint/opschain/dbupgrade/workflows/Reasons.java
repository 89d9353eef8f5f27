package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.OpsChainVersion;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.failure.ApplicationFailure;
import java.util.List;

/**
 * The sentences {@link DbUpgradeWorkflowImpl} ends with: why the upgrade is not needed, why
 * preflight refuses it, and what state a stop or a failed compensation leaves, with what to do
 * next. Pure functions of what the run knows.
 */
final class Reasons {
  private Reasons() {}

  /** Null when the upgrade is needed; else why not (already on CNPG). */
  static String notNeeded(
      UpgradeRequest req,
      HelmActivities.ReleaseInfo release,
      ClusterActivities.PreflightResult preflight) {
    if (OpsChainVersion.isValid(release.chartVersion())
        && OpsChainVersion.parse(release.chartVersion()).isCnpgRelease()) {
      return "not needed: release "
          + req.release()
          + " is at "
          + release.chartVersion()
          + ", on or after "
          + OpsChainVersion.CNPG_FIRST_RELEASE;
    }
    if (preflight.cnpgServing() && !preflight.legacyDbPresent()) {
      return "not needed: CNPG cluster "
          + req.clusterName()
          + " already serves and no legacy "
          + req.dbDeployment()
          + " deployment exists";
    }
    return null;
  }

  /** The stop step redeploys currentVersion: it must be what runs, or it would change versions. */
  static void requireDeployedVersion(
      UpgradeRequest req,
      HelmActivities.ReleaseInfo release,
      ClusterActivities.PreflightResult preflight) {
    if (!req.currentVersion().equals(release.chartVersion())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "currentVersion is "
              + req.currentVersion()
              + " but release "
              + req.release()
              + " runs "
              + release.chartVersion()
              + "; set currentVersion to the deployed version",
          FailureTypes.PREFLIGHT_FAILED);
    }
    if (!preflight.legacyDbPresent()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "no " + req.dbDeployment() + " deployment in " + req.namespace() + ": nothing to back up",
          FailureTypes.PREFLIGHT_FAILED);
    }
  }

  static String stoppedAfterPointOfNoReturn(String why, String state, String location) {
    return why
        + " after the new version was deployed, so nothing was undone. State: "
        + state
        + ". The backup is kept at "
        + location
        + ". To go on, start the upgrade again with the same request: the new run finds this"
        + " state (the release deployed by this run, the legacy database kept), verifies the"
        + " backup again and continues from the import after its START gate. (Stopped inside the"
        + " manual restore, go on by hand with the runbook instead.)";
  }

  static String notBackInService(
      UpgradeRequest req, String why, String failure, BackupEvidence backup, String location) {
    return why
        + "; OpsChain was redeployed on "
        + req.currentVersion()
        + " but it is NOT back in service: "
        + failure
        + ". "
        + (backup != null && backup.passesVerification()
            ? "The verified backup is at " + location
            : "No verified backup was taken by this run")
        + "; check the database before anyone uses OpsChain.";
  }

  static String compensationFailed(UpgradeRequest req, String why, String failure) {
    return why
        + "; putting OpsChain back in service on "
        + req.currentVersion()
        + " failed: "
        + failure
        + ". Redeploy it by hand: helm upgrade "
        + req.release()
        + " --version "
        + req.currentVersion()
        + " -f "
        + req.valuesFile();
  }

  static String manualRestoreFailed(String failure, String location) {
    return "Manual restore failed ("
        + failure
        + "). The backup is kept at "
        + location
        + "; the restore pod is left for inspection.";
  }

  /** What the put-back did when the host that runs Helm was gone, and what a person must do. */
  static String scaledBackWithoutHost(UpgradeRequest req, String host, List<String> scaled) {
    return "; the host "
        + host
        + " that runs Helm is gone, so the cluster's workers scaled "
        + String.join(", ", scaled)
        + " (their replicas at preflight): the Helm release still has stopped=true as its last"
        + " revision; run `helm upgrade "
        + req.release()
        + " --version "
        + req.currentVersion()
        + " -f <values.yaml>` before the next deploy";
  }
}
