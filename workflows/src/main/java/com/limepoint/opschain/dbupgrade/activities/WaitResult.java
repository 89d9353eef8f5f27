package com.limepoint.opschain.dbupgrade.activities;

/** The result of a wait: what was seen when the condition held, and how long it took. */
public record WaitResult(String summary, long waitedMillis) {}
