package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * The result of {@code DbUpgradeWorkflow}: how it ended, each step's timing, where the backup is
 * with its checksums, every approval, and for a dry run the plan.
 *
 * @param manualRestore true when the runbook's manual restore ran
 */
public record UpgradeReport(
    Outcome outcome,
    String reason,
    String namespace,
    String fromVersion,
    String toVersion,
    List<StepStatus> steps,
    BackupEvidence backup,
    List<ApprovalEntry> approvals,
    List<PlannedChange> plan,
    boolean manualRestore) {}
