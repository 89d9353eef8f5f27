package com.limepoint.opschain.dbupgrade.model;

/** The points where a person must approve before the workflow goes on. */
public enum Gate {
  /** Before OpsChain is stopped: the downtime begins. */
  START("Stop OpsChain and begin the downtime?"),
  /** After the backup is on the host and verified; approving allows the new-version upgrade. */
  BACKUP_VERIFIED(
      "The backup is verified. Deploy the new version (the point of no return for automatic undo)?"),
  /** After the automatic import failed: run the runbook's manual restore from the backup? */
  MANUAL_RESTORE(
      "The automatic import failed. Delete the CNPG cluster and restore it from the verified backup?"),
  /** After the restart: a person checks that OpsChain works (create a change, edit a project). */
  SERVICES_VERIFIED(
      "Does OpsChain work (create a change or edit a project's properties in the UI)?"),
  /** Before the legacy database deployment is removed for good. */
  FINALIZE("Remove db.recoveryMode and db.volume and redeploy, deleting the legacy database?"),
  /**
   * After the point of no return, when a step failed: nothing was undone; the evidence says which
   * step, why, and what state is left. Approving runs the step again; rejecting ends the run there.
   */
  RETRY_STEP(
      "A step failed after the point of no return and nothing was undone. Fix the cause, then run"
          + " the step again?");

  private final String question;

  Gate(String question) {
    this.question = question;
  }

  public String question() {
    return question;
  }

  /** Parses a gate name case-insensitively; null when it is not a gate. */
  public static Gate find(String name) {
    if (name == null) {
      return null;
    }
    for (Gate g : values()) {
      if (g.name().equalsIgnoreCase(name.trim())) {
        return g;
      }
    }
    return null;
  }
}
