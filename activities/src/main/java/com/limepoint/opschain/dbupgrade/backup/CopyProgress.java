package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import java.util.List;

/** The heartbeat of a file transfer: which file, how many bytes of how many, and the percentage. */
final class CopyProgress {
  private CopyProgress() {}

  static Checkpoint at(String step, String file, long offset, long size, String message) {
    return new Checkpoint(step, file, offset, size, percent(offset, size), message, List.of());
  }

  /** Rounded down to a tenth of a percent; an empty file is done. */
  static Double percent(long at, long size) {
    return size == 0 ? 100.0 : Math.floor(1000.0 * at / size) / 10;
  }
}
