package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * The answer of the {@code status} query, and of the {@code approveGate} update.
 *
 * @param openGate the gate waited on now, with its evidence; null when none is open
 * @param progress the latest progress of the running long step; null when none runs
 * @param pointOfNoReturnPassed true once the new version was deployed: abort then stops at the next
 *     gate instead of undoing
 */
public record UpgradeStatus(
    String workflowId,
    String namespace,
    Phase phase,
    String message,
    OpenGate openGate,
    List<StepStatus> steps,
    List<ApprovalEntry> approvals,
    Progress progress,
    BackupEvidence backup,
    AbortRequest abortRequested,
    boolean pointOfNoReturnPassed) {}
