package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * What the person deciding a gate is shown.
 *
 * @param backup the verified backup (BACKUP_VERIFIED, MANUAL_RESTORE), else null
 * @param valuesDiff unified diff of the values that the next deploy uses, else null
 */
public record GateEvidence(
    String summary, List<String> details, BackupEvidence backup, String valuesDiff) {

  public GateEvidence {
    details = details == null ? List.of() : List.copyOf(details);
  }
}
