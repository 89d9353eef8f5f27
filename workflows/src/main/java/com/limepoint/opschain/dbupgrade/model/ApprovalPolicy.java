package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * Who may approve, as the worker is configured: the policy every upgrade it claims follows. A
 * request may narrow the approvers, never widen or replace them.
 *
 * @param approvers who may decide gates ({@code OPSCHAIN_APPROVERS}); empty: nobody is configured
 * @param anyoneMayApprove with no approvers configured, whether anyone who can reach Temporal may
 *     approve ({@code OPSCHAIN_ANYONE_MAY_APPROVE}, said explicitly); otherwise such a worker
 *     refuses to start an upgrade
 * @param skipGatesAllowed whether a request's {@code skipGates} is honoured: only on the dev-mode
 *     worker
 * @param secondApproverGates gates that need a second approval by a different person
 */
public record ApprovalPolicy(
    List<String> approvers,
    boolean anyoneMayApprove,
    boolean skipGatesAllowed,
    List<String> secondApproverGates) {

  /** MANUAL_RESTORE (the cluster deleted, pgdata wiped) and FINALIZE (the legacy db removed). */
  public static final List<String> DEFAULT_SECOND_APPROVER_GATES =
      List.of(Gate.MANUAL_RESTORE.name(), Gate.FINALIZE.name());

  public ApprovalPolicy {
    approvers = approvers == null ? List.of() : List.copyOf(approvers);
    secondApproverGates =
        secondApproverGates == null ? List.of() : List.copyOf(secondApproverGates);
  }
}
