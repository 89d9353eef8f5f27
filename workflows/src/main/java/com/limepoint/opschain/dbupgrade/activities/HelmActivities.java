package com.limepoint.opschain.dbupgrade.activities;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;
import java.util.Map;

/**
 * The runbook's Helm deploys: stop ({@code --set stopped=true}), the new version with recoveryMode,
 * the final deploy, the put-back on the current version (compensation), and the manual migration's
 * three redeploys. Values come from files on the worker host, never through workflow payloads.
 */
@ActivityInterface
public interface HelmActivities {

  /** Read-only: the release's deployed chart version, revision, status and description. */
  @ActivityMethod
  ReleaseInfo releaseStatus(ReleaseRequest request);

  /**
   * {@code helm upgrade}, with {@code --wait}, a timeout and {@code --atomic} unless {@code
   * noWait}. The revision's description is the marker {@code opschain-db-upgrade
   * <workflowId>/<runId>/<step>} ({@code HelmCall.marker}): a retry that finds it on a deployed
   * revision does nothing. A pending operation of our own is rolled back and retried; anyone else's
   * is {@code ReleaseBusy}.
   */
  @ActivityMethod
  HelmResult upgrade(UpgradeRequest request);

  record ReleaseRequest(String namespace, String release) {}

  /**
   * @param exists false when no release of that name is installed
   */
  record ReleaseInfo(
      boolean exists, String chartVersion, int revision, String status, String description) {}

  /**
   * @param step the runbook step, part of the idempotency marker
   * @param set {@code --set} values (only non-secret switches such as stopped=true)
   * @param noWait no {@code --wait} and no {@code --atomic}: a deploy past the point of no return,
   *     whose workloads wait for a database that is still being imported
   */
  record UpgradeRequest(
      String namespace,
      String release,
      String chart,
      String version,
      List<String> valuesFiles,
      Map<String, String> set,
      String step,
      long timeoutSeconds,
      boolean dryRun,
      boolean noWait) {
    public UpgradeRequest {
      valuesFiles = valuesFiles == null ? List.of() : List.copyOf(valuesFiles);
      set = set == null ? Map.of() : Map.copyOf(set);
    }

    /** The activity's summary in the history: {@code helm upgrade ns/release version (step)}. */
    public String summary() {
      return "helm upgrade %s/%s %s (%s)".formatted(namespace, release, version, step);
    }
  }

  record HelmResult(int revision, String status, boolean changed, String summary) {
    /** The step's line in the status: {@code revision 3 deployed}, or with (already done). */
    public String line() {
      return "revision " + revision + " " + status + (changed ? "" : " (already done)");
    }
  }
}
