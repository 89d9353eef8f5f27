package com.limepoint.opschain.dbupgrade.model;

/** One step of a dry run: what it would change, and whether that is destructive. */
public record PlannedChange(String step, String change, boolean destructive) {}
