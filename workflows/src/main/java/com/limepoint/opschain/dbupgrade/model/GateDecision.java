package com.limepoint.opschain.dbupgrade.model;

/**
 * The payload of the {@code approve} and {@code reject} signals and of the {@code approveGate}
 * update: {@code {"gate":"BACKUP_VERIFIED","by":"alice","comment":"..."}}.
 */
public record GateDecision(String gate, String by, String comment) {}
