package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.BackupRequest;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import com.limepoint.opschain.dbupgrade.kube.LogTail;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.OutputStream;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The runbook's pg_basebackup in the pod, its progress (-P) heartbeated line by line. */
final class PgBasebackup {
  private static final Duration LONG = Duration.ofHours(12);
  private static final Pattern PERCENT = Pattern.compile("\\((\\d{1,3})%\\)");

  private PgBasebackup() {}

  /**
   * Backs up into {@code dir}, fenced by {@code lock}; BACKUP_FAILED with its log's tail if not.
   */
  static void run(
      PodExec exec,
      String ns,
      String pod,
      String dir,
      String lock,
      BackupRequest r,
      ArchiveFormat format) {
    LogTail tail = new LogTail(20);
    double[] percent = {0};
    int code =
        exec.stream(
            ns,
            pod,
            PodCommands.fenced(
                lock,
                PodCommands.pgBasebackup(dir, r.dbUser(), r.maxRate(), format.compressArgs(false))),
            OutputStream.nullOutputStream(),
            line -> {
              tail.accept(line);
              Matcher m = PERCENT.matcher(line);
              if (m.find()) {
                percent[0] = Double.parseDouble(m.group(1));
              }
              Heartbeats.beat(
                  new Checkpoint("takeBackup", null, 0, 0, percent[0], line, tail.lines()));
            },
            LONG);
    if (code != 0) {
      throw failed("pg_basebackup", ns, pod, code, lock, "", tail);
    }
  }

  /**
   * BACKUP_FAILED for a pg_basebackup ({@code what}: which mode's) that exited {@code code}, naming
   * an earlier attempt that holds the lock, with {@code detail} and the log's tail.
   */
  static ApplicationFailure failed(
      String what, String ns, String pod, int code, String lock, String detail, LogTail tail) {
    return ApplicationFailure.newFailure(
        what
            + " in "
            + ns
            + "/"
            + pod
            + " exited "
            + code
            + (code == PodCommands.LOCK_BUSY ? " (another attempt holds " + lock + ")" : "")
            + detail
            + ": "
            + String.join("\n", tail.lines()),
        FailureTypes.BACKUP_FAILED);
  }
}
