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
  FAILED
}
