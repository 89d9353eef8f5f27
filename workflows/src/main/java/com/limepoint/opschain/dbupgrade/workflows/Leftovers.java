package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * What an earlier run of this upgrade left behind, as preflight finds it: the Helm release's last
 * revision made by one of its steps (every deploy's description is the marker {@code
 * opschain-db-upgrade <workflow>/<run>/<step>}, {@code HelmCall.marker}), and OpsChain's services
 * at 0 replicas. A run terminated, or whose worker lost its compensation, leaves OpsChain stopped;
 * START then says so, what approving does and what rejecting leaves. Pure workflow code.
 *
 * @param lines what was found, one line each (empty: nothing)
 * @param earlierRun the run id in the release's marker, when another run of this workflow made it
 * @param earlierStep the step that made the release's last revision
 */
record Leftovers(List<String> lines, String earlierRun, String earlierStep) {

  static final String MARKER = "opschain-db-upgrade ";

  /** The steps whose deploy, as the release's last revision, an earlier run left behind. */
  private static final List<String> LEFT_BEHIND =
      List.of(
          RunbookStep.STOP_OPSCHAIN.id(),
          RunbookStep.UPGRADE_RELEASE.id(),
          RunbookStep.FINALIZE_UPGRADE.id());

  static Leftovers find(
      UpgradeRequest req,
      HelmActivities.ReleaseInfo release,
      ClusterActivities.PreflightResult preflight,
      String workflowId,
      String runId) {
    List<String> lines = new ArrayList<>();
    String run = null;
    String step = null;
    String d = release == null ? null : release.description();
    if (d != null && d.startsWith(MARKER + workflowId + "/")) {
      String[] parts = d.substring((MARKER + workflowId + "/").length()).split("/", 2);
      // Only a deploy that leaves something to deal with: OpsChain stopped, or the new version
      // deployed. An earlier run's put-back (an abort) left OpsChain as it was.
      if (parts.length == 2 && !parts[0].equals(runId) && LEFT_BEHIND.contains(parts[1])) {
        run = parts[0];
        step = parts[1];
        lines.add(
            "left by an earlier run: release "
                + req.release()
                + " revision "
                + release.revision()
                + " ("
                + release.status()
                + ") was deployed by run "
                + run
                + "'s step "
                + step
                + (step.equals(RunbookStep.STOP_OPSCHAIN.id())
                    ? ", with stopped=true: OpsChain was stopped and not put back"
                    : ""));
      }
    }
    List<String> down =
        req.restartDeployments().stream()
            .filter(n -> Integer.valueOf(0).equals(preflight.replicas().get(n)))
            .toList();
    if (!down.isEmpty()) {
      lines.add(
          "OpsChain is already stopped: "
              + String.join(", ", down)
              + " at 0 replicas"
              + (run == null ? " (not by a run of this upgrade that preflight can name)" : ""));
    }
    return new Leftovers(List.copyOf(lines), run, step);
  }

  /**
   * True when the earlier run got past the point of no return and stopped there: its upgradeRelease
   * or finalizeUpgrade deployed the release's last revision, at the target version. A new run
   * continues it (DbUpgradeWorkflowImpl.continueEarlierRun); a stop inside the manual restore (the
   * child workflow's own markers) is not continued.
   */
  boolean pastPointOfNoReturn(UpgradeRequest req, HelmActivities.ReleaseInfo release) {
    return earlierRun != null
        && "deployed".equals(release.status())
        && req.targetVersion().equals(release.chartVersion())
        && (RunbookStep.UPGRADE_RELEASE.id().equals(earlierStep)
            || RunbookStep.FINALIZE_UPGRADE.id().equals(earlierStep));
  }

  /** OpsChain was stopped by an earlier run and not put back (its marker, or 0 replicas). */
  boolean stopped() {
    return RunbookStep.STOP_OPSCHAIN.id().equals(earlierStep)
        || lines.stream().anyMatch(l -> l.startsWith("OpsChain is already stopped"));
  }

  boolean any() {
    return !lines.isEmpty();
  }

  /** What approving START does over these leftovers. */
  String approving(UpgradeRequest req) {
    return "approving START goes on from this state: the stop step finds OpsChain stopped, the"
        + " backup is taken, and a later abort, cancel or failure before the point of no return"
        + " puts OpsChain back in service on "
        + req.currentVersion()
        + " (Helm, not stopped) and checks it";
  }

  /** What rejecting START (or its timeout, or a cancel) leaves. */
  String rejecting(UpgradeRequest req) {
    return "OpsChain stays stopped, as the earlier run left it: put it back with `helm upgrade "
        + req.release()
        + " --version "
        + req.currentVersion()
        + " -f <values.yaml>`, or start again and approve START";
  }
}
