package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * The gate the workflow waits on now.
 *
 * @param deadline when the gate times out (the request's gateTimeout), as an ISO-8601 instant; null
 *     past the point of no return, where gates wait for a person
 * @param approvers who may decide it; empty means anyone
 */
public record OpenGate(
    Gate gate,
    String question,
    String openedAt,
    String deadline,
    List<String> approvers,
    GateEvidence evidence) {}
