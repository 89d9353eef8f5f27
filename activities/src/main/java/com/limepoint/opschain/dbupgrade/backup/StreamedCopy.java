package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.CopyRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * copyBackupOut for a streamed backup: the bytes reached the host during takeBackup, where the
 * pod's SHA-256 of what it sent was compared with the host's. Nothing is copied or read again: the
 * host's sums and each file's size are the evidence, for verifyBackup to check.
 */
final class StreamedCopy {
  private StreamedCopy() {}

  static BackupEvidence confirm(String host, CopyRequest r) {
    Path dir = Path.of(r.hostDir());
    try {
      Map<String, String> sums = SumsFile.readOnHost(dir);
      if (sums.isEmpty()) {
        throw ApplicationFailure.newNonRetryableFailure(
            "no streamed backup in " + host + ":" + dir + " (" + SumsFile.NAME + " is missing)",
            FailureTypes.BACKUP_INVALID);
      }
      List<BackupFile> files = new ArrayList<>();
      long bytes = 0;
      for (var e : sums.entrySet()) {
        Path p = dir.resolve(e.getKey());
        long size = Files.isRegularFile(p) ? Files.size(p) : -1;
        files.add(new BackupFile(e.getKey(), size, e.getValue(), size, e.getValue()));
        bytes += Math.max(size, 0);
      }
      return new BackupEvidence(
          host,
          r.hostDir(),
          files,
          List.of(
              "streamed "
                  + bytes
                  + " bytes from "
                  + r.namespace()
                  + "/"
                  + r.pod()
                  + " straight to the host during takeBackup; nothing was written in the pod",
              "SHA-256 of what the pod sent equals SHA-256 on the host"),
          false);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
