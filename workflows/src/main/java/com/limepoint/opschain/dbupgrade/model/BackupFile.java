package com.limepoint.opschain.dbupgrade.model;

/** One backup file with its size and SHA-256 in the pod and on the host (null when unknown). */
public record BackupFile(
    String name, Long podBytes, String podSha256, Long hostBytes, String hostSha256) {

  /** Non-empty and the same size and hash on both ends. */
  public boolean matches() {
    return podBytes != null
        && podBytes > 0
        && podBytes.equals(hostBytes)
        && podSha256 != null
        && podSha256.equalsIgnoreCase(hostSha256);
  }
}
