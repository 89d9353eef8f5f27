package com.limepoint.opschain.dbupgrade.model;

/** The payload of the {@code abort} signal: {@code {"by":"alice","reason":"..."}}. */
public record AbortRequest(String by, String reason) {}
