package com.limepoint.opschain.dbupgrade.model;

/** How a {@code DbUpgradeWorkflow} ended, when it did not fail. */
public enum Outcome {
  /** The database runs on CNPG and the legacy deployment is gone. */
  COMPLETED,
  /** Preflight found that the upgrade is not needed; nothing was changed. */
  SKIPPED,
  /** {@code dryRun}: the plan was returned; nothing was changed. */
  PLANNED,
  /** Stopped by abort, a rejected gate or a gate timeout; the reason says what state is left. */
  ABORTED,
  /**
   * A cancel request (the Web UI, {@code temporal workflow cancel}, a parent) ended it: before the
   * point of no return after the same checked compensation as an abort; after it with the state
   * left. Temporal records the run as CANCELED; the status query holds this report's reason.
   */
  CANCELED
}
