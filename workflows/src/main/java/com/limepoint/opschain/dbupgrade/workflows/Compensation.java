package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.RunbookStep.*;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.failure.ActivityFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The compensation steps of {@link DbUpgradeWorkflowImpl}, before the point of no return: the
 * current version redeployed with the user's values, its services awaited, and the legacy database
 * checked. Workflow code.
 */
final class Compensation {
  private final UpgradeSteps runbook;

  Compensation(UpgradeSteps runbook) {
    this.runbook = runbook;
  }

  /**
   * Compensation: the current version with the user's values, not stopped, and its services.
   * Returns null, or, when the host that runs Helm is gone (its worker took nothing within the
   * host's schedule-to-start), what was done instead: the cluster's workers scale the legacy
   * database and OpsChain's deployments back to their replicas at preflight, which needs no host.
   */
  String redeployCurrent() {
    UpgradeRequest req = runbook.facts().req();
    String note = null;
    try {
      runbook.helmUpgrade(
          PUT_BACK_IN_SERVICE, req.currentVersion(), List.of(req.valuesFile()), Map.of());
    } catch (ActivityFailure e) {
      if (Failures.notPickedUp(e) == null) {
        throw e;
      }
      note = scaleBackWithoutHost(req);
    }
    runbook.step(
        AWAIT_SERVICES_BACK,
        () ->
            runbook
                .acts()
                .clusterWait("wait for OpsChain back in " + req.namespace())
                .awaitRolloutComplete(UpgradeActivities.waitFor(req, req.restartDeployments())),
        r -> r.summary());
    return note;
  }

  /**
   * The legacy database and the restarted deployments back at the replicas preflight found (1 when
   * preflight did not record them), by the cluster's workers.
   */
  private String scaleBackWithoutHost(UpgradeRequest req) {
    List<String> names = new ArrayList<>();
    names.add(req.dbDeployment());
    names.addAll(req.restartDeployments());
    Map<String, Integer> found = runbook.preflightResult().replicas();
    List<String> scaled = new ArrayList<>();
    for (String name : names) {
      int replicas = Math.max(1, found.getOrDefault(name, 1));
      scaled.add(name + " to " + replicas);
    }
    runbook.step(
        SCALE_BACK_WITHOUT_HOST,
        () -> {
          for (String name : names) {
            int replicas = Math.max(1, found.getOrDefault(name, 1));
            runbook
                .acts()
                .cluster("scale " + req.namespace() + "/" + name + " to " + replicas)
                .scaleDeployment(
                    new ClusterActivities.ScaleRequest(req.namespace(), name, replicas, false));
          }
          return scaled;
        },
        r -> "scaled " + String.join(", ", r));
    return "; the host "
        + runbook.facts().host()
        + " that runs Helm is gone, so the cluster's workers scaled "
        + String.join(", ", scaled)
        + " (their replicas at preflight): the Helm release still has stopped=true as its last"
        + " revision; run `helm upgrade "
        + req.release()
        + " --version "
        + req.currentVersion()
        + " -f <values.yaml>` before the next deploy";
  }

  /**
   * "Back in service" is checked: the legacy database answers and is the one preflight saw (its
   * system identifier). The OpsChain deployments were awaited just before.
   */
  void checkDatabaseBack() {
    UpgradeRequest req = runbook.facts().req();
    runbook.step(
        CHECK_DATABASE_BACK,
        () ->
            runbook
                .acts()
                .clusterWait("check the legacy database in " + req.namespace())
                .checkDatabaseBack(
                    new ClusterActivities.DatabaseCheckRequest(
                        req.namespace(),
                        req.dbDeployment(),
                        req.dbUser(),
                        runbook.preflightResult().systemIdentifier(),
                        UpgradeActivities.DATABASE_CHECK.toSeconds())),
        r -> r.summary());
  }
}
