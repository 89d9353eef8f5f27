package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.model.ApprovalPolicy;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.util.List;

/**
 * The worker's approval policy applied to a request: who may approve this upgrade. Pure, so the
 * workflow can call it and the tests can read it.
 */
final class ApprovalRules {
  private ApprovalRules() {}

  /**
   * The approvers of this upgrade: the worker's, narrowed to the request's when it names some.
   * Refuses (non-retryable InvalidRequest, before anything is touched) a request that names anyone
   * the worker does not, a worker with nobody configured that was not told anyone may approve, and
   * {@code skipGates} on a worker that does not allow it. Empty means anyone may approve.
   */
  static List<String> approvers(List<String> requested, boolean skipGates, ApprovalPolicy p) {
    if (skipGates && !p.skipGatesAllowed()) {
      throw refused(
          "skipGates is honoured only by the dev-mode worker; this worker requires every gate to"
              + " be approved. Remove skipGates from the request. Nothing was changed");
    }
    if (p.approvers().isEmpty()) {
      if (!p.anyoneMayApprove()) {
        throw refused(
            "this worker has no approvers configured: set OPSCHAIN_APPROVERS to who may approve"
                + " gates, or OPSCHAIN_ANYONE_MAY_APPROVE=true to let anyone who can reach"
                + " Temporal approve. Nothing was changed");
      }
      return List.copyOf(requested);
    }
    if (requested.isEmpty()) {
      return p.approvers();
    }
    List<String> outside = requested.stream().filter(a -> !p.approvers().contains(a)).toList();
    if (!outside.isEmpty()) {
      throw refused(
          "approvers "
              + outside
              + " are not approvers on this worker (OPSCHAIN_APPROVERS: "
              + p.approvers()
              + "); a request may only narrow them. Nothing was changed");
    }
    return List.copyOf(requested);
  }

  private static ApplicationFailure refused(String why) {
    return ApplicationFailure.newNonRetryableFailure(why, FailureTypes.INVALID_REQUEST);
  }
}
