package com.limepoint.opschain.dbupgrade.backup;

import static com.limepoint.opschain.dbupgrade.backup.RehearsalPod.LOG;
import static com.limepoint.opschain.dbupgrade.backup.RehearsalPod.PGDATA;
import static com.limepoint.opschain.dbupgrade.backup.RehearsalPod.SCRATCH;

import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.CensusResult;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.RehearsalRequest;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.RehearsalResult;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.restore.PgVersions;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import java.time.Duration;
import java.util.List;

/**
 * One restore rehearsal, as the runbook's manual restore would restore the backup, in the scratch
 * pod: the image's major against the backup's PG_VERSION, the extraction, PostgreSQL started on the
 * copy, {@code pg_controldata}, the census against the source's. The pod is deleted in {@code
 * finally}: on success, on a problem, on a failure and when the attempt is canceled (the heartbeat
 * throws, and the delete still runs).
 */
final class Rehearsal {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Rehearsal.class);
  private static final Duration SHORT = Duration.ofMinutes(2);

  static final String RETAKE =
      "reject BACKUP_VERIFIED (OpsChain goes back in service on the current version) and start a"
          + " new upgrade, which takes a new backup";

  private final DataCheckActivitiesImpl checks;
  private final PodExec exec;
  private final RehearsalPod pods;

  Rehearsal(DataCheckActivitiesImpl checks, PodExec exec, RehearsalPod pods) {
    this.checks = checks;
    this.exec = exec;
    this.pods = pods;
  }

  RehearsalResult run(RehearsalRequest r) {
    long t0 = System.nanoTime();
    String backupMajor = DataCheckActivitiesImpl.backupMajor(r.hostDir());
    pods.create(r);
    try {
      return inPod(r, backupMajor, t0);
    } finally {
      try {
        // Logged, not a heartbeat: a canceled attempt's heartbeat throws, and the pod must go.
        log.info("rehearsal: delete pod {}", r.podName());
        pods.deleteIfOurs(r.namespace(), r.podName(), Duration.ofSeconds(8));
        log.info("rehearsal: pod {} deleted", r.podName());
      } catch (RuntimeException e) {
        // The retry (or removeRehearsalPod after it) deletes it; Kubernetes ends it at its
        // activeDeadlineSeconds at the latest.
        log.warn("could not delete rehearsal pod {}: {}", r.podName(), e.toString());
      }
    }
  }

  private RehearsalResult inPod(RehearsalRequest r, String backupMajor, long t0) {
    String ns = r.namespace();
    String pod = r.podName();
    Duration timeout = Duration.ofSeconds(Math.max(60, r.timeoutSeconds()));
    beat("wait for pod " + pod + " to run");
    String notRunning = pods.awaitRunning(r, timeout);
    if (notRunning != null) {
      return failed(
          r, t0, null, null, notRunning, "set restoreImage to an image the cluster can run");
    }
    String version = firstLine(exec.check(ns, pod, PodCommands.postgresVersion(), SHORT));
    String imageMajor = PgVersions.serverMajor(version).orElse("unknown");
    if (!imageMajor.equals(backupMajor)) {
      return failed(
          r,
          t0,
          version,
          null,
          "restore image "
              + r.image()
              + " runs PostgreSQL "
              + imageMajor
              + "; the backup is PostgreSQL "
              + backupMajor,
          "set restoreImage to a PostgreSQL "
              + backupMajor
              + " image (the manual restore uses the same image) and start the upgrade again");
    }
    String notStarted = restoreAndStart(r, timeout);
    if (notStarted != null) {
      return failed(r, t0, version, null, notStarted, RETAKE);
    }
    beat("pg_controldata and the census of the restored copy");
    String controlData = exec.check(ns, pod, PodCommands.controlData(PGDATA), SHORT);
    String state =
        RestorePodActivitiesImpl.controlField(controlData, RestorePodActivitiesImpl.CLUSTER_STATE);
    CensusResult census =
        checks.census(
            ns,
            pod,
            PodCommands.census(r.dbUser(), r.database(), Census.SQL),
            r.database(),
            r.hostDir(),
            "rehearsal",
            "source");
    exec.run(ns, pod, PodCommands.pgCtlStop(PGDATA), SHORT);
    boolean equal = census.comparison().equal();
    boolean inProduction = "in production".equals(state);
    return new RehearsalResult(
        equal && inProduction,
        pod,
        version,
        state,
        seconds(t0),
        census,
        !inProduction
            ? "pg_controldata shows '" + state + "', not 'in production'"
            : equal ? null : "the restored database differs: " + census.comparison().differences(),
        equal && inProduction ? null : RETAKE);
  }

  /**
   * Extracts base and WAL, starts PostgreSQL on the copy: null when it runs, else why it did not
   * start (the server log's FATAL lines).
   *
   * <p>Every archive, gzip included, is decompressed on the worker straight into {@code tar -xf -}
   * in the pod ({@link StreamedExtract}): nothing is uploaded first and nothing is decompressed in
   * the pod, so the archive is read once and the decompression overlaps the send. Uploading the
   * runbook's {@code base.tar.gz} and then {@code tar -xzf} in the pod took 10.5 s + 35.9 s at 4.33
   * GiB (docs/performance.md). The archive's bytes are hashed against the verified SHA-256 as they
   * are read, and the decompressed ones counted against the archive check's, as for zstd. The
   * manual restore still uploads the runbook's files and extracts them in the pod: it must survive
   * a cut connection ({@link ResumableUpload}), where this pod is made anew by each attempt ({@link
   * RehearsalPod#create}), so no earlier attempt's tar runs beside this one.
   */
  private String restoreAndStart(RehearsalRequest r, Duration timeout) {
    String ns = r.namespace();
    String pod = r.podName();
    beat("extract base and WAL into " + PGDATA);
    exec.check(ns, pod, PodCommands.mkdirPrivate(PGDATA), SHORT);
    for (var f : r.files().stream().filter(b -> ArchiveFormat.isArchive(b.name())).toList()) {
      String into = f.name().startsWith("pg_wal.tar") ? PGDATA + "/pg_wal" : PGDATA;
      exec.check(ns, pod, PodCommands.mkdirs(into), SHORT);
      StreamedExtract.extract(exec, ns, pod, java.nio.file.Path.of(r.hostDir()), f, into);
    }
    beat("start PostgreSQL on the restored copy");
    PodExec.Result start =
        exec.run(
            ns,
            pod,
            PodCommands.pgCtlStart(PGDATA, LOG, SCRATCH, timeout.toSeconds()),
            timeout.plusMinutes(1));
    return start.ok()
        ? null
        : "PostgreSQL did not start on the restored backup (it never reached a consistent state): "
            + serverErrors(ns, pod);
  }

  /** The server log's FATAL and PANIC lines (messages about WAL and files, never row data). */
  private String serverErrors(String ns, String pod) {
    PodExec.Result tail = exec.run(ns, pod, PodCommands.tail(LOG, 40), SHORT);
    List<String> errors =
        tail.stdout()
            .lines()
            .filter(l -> l.contains("FATAL:") || l.contains("PANIC:"))
            .map(l -> l.substring(l.indexOf(l.contains("FATAL:") ? "FATAL:" : "PANIC:")))
            .distinct()
            .limit(3)
            .toList();
    return errors.isEmpty() ? "see " + LOG + " in the pod" : String.join(" / ", errors);
  }

  private RehearsalResult failed(
      RehearsalRequest r, long t0, String version, String state, String problem, String wayOut) {
    log.warn("restore rehearsal in {}/{}: {}", r.namespace(), r.podName(), problem);
    return new RehearsalResult(
        false, r.podName(), version, state, seconds(t0), null, problem, wayOut);
  }

  private static void beat(String what) {
    log.info("rehearsal: {}", what);
    Heartbeats.beat(
        new Heartbeats.Checkpoint("rehearseRestore", null, 0, 0, null, what, List.of()));
  }

  private static long seconds(long t0) {
    return (System.nanoTime() - t0) / 1_000_000_000L;
  }

  private static String firstLine(String text) {
    return text.strip().lines().findFirst().orElse("");
  }
}
