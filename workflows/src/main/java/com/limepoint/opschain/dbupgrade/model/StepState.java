package com.limepoint.opschain.dbupgrade.model;

public enum StepState {
  PENDING,
  RUNNING,
  DONE,
  FAILED,
  SKIPPED,
  CANCELED
}
