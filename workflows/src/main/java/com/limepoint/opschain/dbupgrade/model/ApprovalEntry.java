package com.limepoint.opschain.dbupgrade.model;

/**
 * One line of the approvals log: every approve, reject and abort the workflow received, the ignored
 * ones included, with why they were ignored.
 *
 * @param decision APPROVED, REJECTED, ABORT, or IGNORED
 * @param via signal, update, skipGates or timeout
 */
public record ApprovalEntry(
    String gate, String by, String at, String comment, String decision, String via, String note) {}
