package com.limepoint.opschain.dbupgrade.backup;

/**
 * When a resumed transfer gives up: after {@value #ATTEMPTS} attempts in a row that moved no byte.
 * Any progress starts the count again. The copy out and the upload both resume with it.
 */
final class StallRule {
  static final int ATTEMPTS = 5;

  private int stalls;

  /**
   * Records one attempt that began at byte {@code before} and ended at {@code after}; true when the
   * transfer should give up.
   */
  boolean giveUp(long before, long after) {
    stalls = after == before ? stalls + 1 : 0;
    return stalls >= ATTEMPTS;
  }
}
