package com.limepoint.opschain.dbupgrade.model;

/** Where the upgrade is, as the {@code status} query and the Web UI show it. */
public enum Phase {
  VALIDATING,
  PREFLIGHT,
  AWAITING_APPROVAL,
  STOPPING,
  BACKING_UP,
  UPGRADING,
  IMPORTING,
  MANUAL_RESTORE,
  RESTARTING,
  FINALIZING,
  COMPENSATING,
  COMPLETED,
  SKIPPED,
  PLANNED,
  ABORTED,
  /**
   * A cancel request ended the run; the message says what state it left (back in service, or after
   * the point of no return the state and the way on).
   */
  CANCELED,
  FAILED
}
