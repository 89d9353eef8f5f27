package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * The directory a workflow run owns inside a pod: {@code <base>/<workflowId>.<runId>}, created by
 * the run with an {@value #OWNER} file naming the workflow and run. The base (the request's {@code
 * podBackupDir}) is only ever created, never emptied or removed; what the run deletes lies inside
 * its own directory, after {@link #claim} has confirmed the owner. The run id makes every marker
 * and path unique to one run, so a later run never reuses or clears an earlier run's files.
 */
public final class RunDir {
  /** The owner marker, written when the directory is created: {@code <workflowId> <runId>}. */
  public static final String OWNER = "OWNER";

  /** The folder inside a run's directory that holds the backup's files. */
  public static final String BACKUP = "backup";

  private static final Duration SHORT = Duration.ofMinutes(2);

  private RunDir() {}

  /** This run's directory under {@code base}, for the workflow run the current activity is in. */
  public static String path(String base) {
    return base + "/" + Heartbeats.workflowId() + "." + Heartbeats.runId();
  }

  /** The backup folder of a run's directory: pg_basebackup's target, the upload's destination. */
  public static String backupDir(String runDir) {
    return runDir + "/" + BACKUP;
  }

  static String ownerLine() {
    return Heartbeats.workflowId() + " " + Heartbeats.runId();
  }

  /**
   * Creates this run's directory under {@code base} with its owner marker, or confirms that an
   * existing one is this run's; returns its path. A directory of that name owned by anyone else, or
   * holding files without an owner marker, is refused (non-retryable) and left alone.
   */
  public static String claim(PodExec exec, String ns, String pod, String base) {
    String dir = path(base);
    exec.check(ns, pod, PodCommands.mkdirs(base), SHORT);
    PodExec.Result created = exec.run(ns, pod, PodCommands.mkdirNew(dir), SHORT);
    PodExec.Result owner = exec.run(ns, pod, PodCommands.read(dir + "/" + OWNER), SHORT);
    if (owner.ok()) {
      if (!owner.stdout().strip().equals(ownerLine())) {
        throw notOurs(ns, pod, dir, "its " + OWNER + " names another run");
      }
      return dir;
    }
    if (!created.ok()) {
      // It existed without a marker: ours only if empty (a mkdir whose marker write was cut off).
      List<String> entries = exec.check(ns, pod, PodCommands.listDir(dir), SHORT).lines().toList();
      if (!entries.isEmpty()) {
        throw notOurs(ns, pod, dir, "it holds files but no " + OWNER + " marker");
      }
    }
    exec.writeFile(
        ns, pod, dir + "/" + OWNER, (ownerLine() + "\n").getBytes(StandardCharsets.UTF_8), null);
    return dir;
  }

  private static ApplicationFailure notOurs(String ns, String pod, String dir, String why) {
    return ApplicationFailure.newNonRetryableFailure(
        dir
            + " in pod "
            + ns
            + "/"
            + pod
            + " is not this run's ("
            + why
            + "); it was left untouched. Remove it by hand if it is stale, or set podBackupDir"
            + " elsewhere.",
        FailureTypes.NOT_OWNED);
  }
}
