package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.RunbookStep.*;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
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

  /** Compensation: the current version with the user's values, not stopped, and its services. */
  void redeployCurrent() {
    UpgradeRequest req = runbook.facts().req();
    runbook.helmUpgrade(
        PUT_BACK_IN_SERVICE, req.currentVersion(), List.of(req.valuesFile()), Map.of());
    runbook.step(
        AWAIT_SERVICES_BACK,
        () ->
            runbook
                .acts()
                .clusterWait("wait for OpsChain back in " + req.namespace())
                .awaitRolloutComplete(UpgradeActivities.waitFor(req, req.restartDeployments())),
        r -> r.summary());
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
