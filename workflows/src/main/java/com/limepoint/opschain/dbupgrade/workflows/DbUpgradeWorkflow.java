package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Progress;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.UpdateValidatorMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * The whole OpsChain database upgrade guide, from "Stop OpsChain" to removing the legacy database,
 * with the manual migration as a fallback. These names are public API: users type them into the
 * {@code temporal} CLI.
 *
 * <p>Workflow id: {@code opschain-db-upgrade-<namespace>} (one upgrade per namespace). Task queue:
 * {@value #TASK_QUEUE}.
 */
@WorkflowInterface
public interface DbUpgradeWorkflow {

  String TASK_QUEUE = "opschain-db-upgrade";

  /** Runs the upgrade; returns how it ended, or fails with a typed ApplicationFailure. */
  @WorkflowMethod
  UpgradeReport run(UpgradeRequest request);

  /** Approves the open gate. Ignored, and logged in the status, when not valid. */
  @SignalMethod
  void approve(GateDecision decision);

  /** Rejects the open gate; before the new version is deployed this puts OpsChain back. */
  @SignalMethod
  void reject(GateDecision decision);

  /**
   * Before the new version is deployed: puts OpsChain back in service on the current version and
   * ends ABORTED. After that: stops at the next gate and says why; nothing is undone blindly.
   */
  @SignalMethod
  void abort(AbortRequest request);

  /**
   * Approves the open gate like {@link #approve}, but a bad decision is rejected to the caller. The
   * returned status is the one after the gate closed (the next step running), or, for the first of
   * two approvals, with the gate still open.
   */
  @UpdateMethod
  UpgradeStatus approveGate(GateDecision decision);

  @UpdateValidatorMethod(updateName = "approveGate")
  void validateApproveGate(GateDecision decision);

  /**
   * Rejects the open gate like {@link #reject}, but a bad decision is refused to the caller;
   * returns the status after the gate closed (what the rejection led to).
   */
  @UpdateMethod
  UpgradeStatus rejectGate(GateDecision decision);

  @UpdateValidatorMethod(updateName = "rejectGate")
  void validateRejectGate(GateDecision decision);

  /** Phase, steps, the open gate with its evidence, approvals and progress. */
  @QueryMethod
  UpgradeStatus status();

  /** Internal: long activities report progress milestones here (not on every heartbeat). */
  @SignalMethod(name = "progress")
  void reportProgress(Progress progress);
}
