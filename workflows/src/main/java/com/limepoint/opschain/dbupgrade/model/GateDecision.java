package com.limepoint.opschain.dbupgrade.model;

/**
 * The payload of the {@code approve} and {@code reject} signals and of the {@code approveGate}
 * update: {@code {"gate":"BACKUP_VERIFIED","by":"alice","comment":"...","opening":"..."}}.
 *
 * @param opening the id of the gate's opening this decision is for (the status shows it; the
 *     starter fills it in): a decision for another opening, an old one sent again to a later run
 *     say, is refused. Null: whichever opening of that gate is open now.
 */
public record GateDecision(String gate, String by, String comment, String opening) {

  public GateDecision(String gate, String by, String comment) {
    this(gate, by, comment, null);
  }
}
