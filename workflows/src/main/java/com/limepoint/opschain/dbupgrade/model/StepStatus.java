package com.limepoint.opschain.dbupgrade.model;

/**
 * One runbook step as the status shows it. Times are ISO-8601 instants from workflow time, null
 * until the step starts or ends.
 */
public record StepStatus(
    String name,
    String description,
    StepState state,
    String startedAt,
    String endedAt,
    String summary) {}
