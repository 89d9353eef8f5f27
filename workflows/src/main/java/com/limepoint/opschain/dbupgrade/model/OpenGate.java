package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * The gate the workflow waits on now.
 *
 * @param deadline when the gate times out (the request's gateTimeout), as an ISO-8601 instant; null
 *     past the point of no return, where gates wait for a person
 * @param approvers who may decide it; empty means anyone
 * @param opening this opening's id, {@code <run>:<GATE>#<n>}: a decision that names another opening
 *     is refused
 */
public record OpenGate(
    Gate gate,
    String question,
    String openedAt,
    String deadline,
    List<String> approvers,
    GateEvidence evidence,
    String opening) {

  public OpenGate(
      Gate gate,
      String question,
      String openedAt,
      String deadline,
      List<String> approvers,
      GateEvidence evidence) {
    this(gate, question, openedAt, deadline, approvers, evidence, null);
  }
}
