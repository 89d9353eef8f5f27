package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.SpaceRequest;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether the worker host has room for the backup under the host directory. */
final class FreeSpace {
  /** Safety factor over the database size: the compressed backup is smaller than this. */
  private static final double SPACE_FACTOR = 1.1;

  private FreeSpace() {}

  /** Unchanged with the free bytes; a non-retryable INSUFFICIENT_SPACE when there is too little. */
  static ChangeResult check(SpaceRequest r) {
    Path existing = Path.of(r.hostDir());
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    Path base = existing == null ? Path.of("/") : existing;
    long free = usableSpace(base);
    long need = (long) (r.requiredBytes() * SPACE_FACTOR);
    if (free < need) {
      throw ApplicationFailure.newNonRetryableFailure(
          "only "
              + free
              + " bytes free under "
              + existing
              + "; the backup of a "
              + r.requiredBytes()
              + "-byte database needs up to "
              + need
              + ". Free space or set hostBackupDir elsewhere.",
          FailureTypes.INSUFFICIENT_SPACE);
    }
    return ChangeResult.unchanged(
        free + " bytes free under " + existing + ", need at most " + need);
  }

  private static long usableSpace(Path base) {
    try {
      try {
        FileStore store = Files.getFileStore(base);
        return store.getUsableSpace();
      } catch (IOException e) {
        // The mount table may not list the path (a chroot, some container runtimes): statvfs it.
        long free = base.toFile().getUsableSpace();
        if (free == 0) {
          throw e;
        }
        return free;
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
