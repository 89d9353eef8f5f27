package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.kube.DataDirectories;
import com.limepoint.opschain.dbupgrade.kube.DbPods;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.kube.PodFence;
import com.limepoint.opschain.dbupgrade.kube.RunDir;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.client.ActivityCompletionException;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link BackupActivities} on fabric8 exec and the worker host's file system. Each activity
 * delegates: {@link FreeSpace}, {@link PgBasebackup} and {@link PodFiles} (takeBackup), {@link
 * ResumableDownload} (copyBackupOut), {@link BackupVerifier}, {@link BaseArchive}
 * (backupPgVersion), {@link ResumableUpload}.
 */
public class BackupActivitiesImpl implements BackupActivities {
  private static final Logger log = LoggerFactory.getLogger(BackupActivitiesImpl.class);

  /**
   * The pod-side checksums, in {@code sha256sum -c} format, written beside the backup when
   * pg_basebackup has finished. The host writes the same file name beside its copy.
   */
  public static final String SUMS = SumsFile.NAME;

  /** The completion marker in the run's directory: the backup in it is whole and hashed. */
  static final String COMPLETE = "COMPLETE";

  private static final Duration SHORT = Duration.ofMinutes(2);

  private final KubernetesClient client;
  private final PodExec exec;
  private final PodFence fence;
  private final DataDirectories dataDirs;
  private final PodFiles podFiles;
  private final String host;

  public BackupActivitiesImpl(KubernetesClient client, String host) {
    this.client = client;
    this.exec = new PodExec(client);
    this.fence = new PodFence(exec);
    this.dataDirs = new DataDirectories(exec);
    this.podFiles = new PodFiles(exec);
    this.host = host;
  }

  @Override
  public ChangeResult checkFreeSpace(SpaceRequest r) {
    return FreeSpace.check(r);
  }

  @Override
  public PodBackup takeBackup(BackupRequest r) {
    String ns = r.namespace();
    String pod = DbPods.readyPod(client, ns, r.dbDeployment());
    // Everything this step writes or deletes lies in the run's own directory, never in the
    // user's podBackupDir itself: a wrong podBackupDir (a shared /tmp) loses nothing that was
    // there. And none of it goes near the database's files: asked again here, in this pod.
    refuseDataDirectory(ns, pod, r);
    String runDir = RunDir.claim(exec, ns, pod, r.podBackupDir());
    String lock = fence(ns, pod, runDir, "takeBackup");
    try {
      return takeBackup(r, ns, pod, runDir, lock);
    } catch (ActivityCompletionException e) {
      // Cancelled (an abort, a cancel from the Web UI) or timed out: closing the exec does not
      // stop pg_basebackup in the pod (see PodFence), so this attempt stops its own commands
      // before it reports, and the compensation that waits for it starts on a quiet pod.
      Heartbeats.whileCleaningUp(() -> {
        try {
          String what = fence.stopOwn(ns, pod, runDir);
          log.warn("takeBackup in {}/{} ended by {}: {}", ns, pod, e, what);
        } catch (RuntimeException stop) {
          // The next attempt's fence stops it; the cancel is what this attempt reports.
          log.warn("takeBackup in {}/{} could not stop its own commands: {}", ns, pod, stop);
          e.addSuppressed(stop);
        }
      });
      throw e;
    }
  }

  private PodBackup takeBackup(BackupRequest r, String ns, String pod, String runDir, String lock) {
    ArchiveFormat format = format(ns, pod, r);
    if (r.streamed()) {
      return StreamedBackup.take(exec, ns, pod, runDir, lock, r, format);
    }
    // pg_basebackup needs an empty or new target: a folder inside the run's directory.
    String dir = RunDir.backupDir(runDir);
    List<String> listing = podFiles.list(ns, pod, runDir);
    if (listing.contains(COMPLETE)) {
      log.info("backup in {}/{}:{} is complete for this run; reusing it", ns, pod, dir);
      Map<String, String> sums = SumsFile.readInPod(exec, ns, pod, dir);
      if (sums.isEmpty()) {
        sums = recordPodChecksums(ns, pod, dir, lock);
      }
      return new PodBackup(pod, dir, podFiles.backupFiles(ns, pod, dir, sums), true);
    }
    if (listing.contains(RunDir.BACKUP)) {
      // An earlier attempt of this run was cut off: its partial backup is in this run's own
      // directory (its owner confirmed above), and pg_basebackup needs the target empty.
      log.info("clearing this run's incomplete backup {}/{}:{}", ns, pod, dir);
      exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.removeTree(dir)), SHORT);
    }
    PgBasebackup.run(exec, ns, pod, dir, lock, r, format);
    Map<String, String> sums = recordPodChecksums(ns, pod, dir, lock);
    exec.check(
        ns, pod, PodCommands.fenced(lock, PodCommands.touch(runDir + "/" + COMPLETE)), SHORT);
    return new PodBackup(pod, dir, podFiles.backupFiles(ns, pod, dir, sums), false);
  }

  /**
   * Hashes the finished backup in the pod ({@code sha256sum}, once) and writes the sums to {@link
   * #SUMS} beside it. This is the pod's side of the checksum check: the copy out hashes what it
   * receives and compares with these, so a copy that is retried or resumed never hashes the pod's
   * files again. Called by {@link #takeBackup} before the completion marker; {@code lock} fences
   * the hashing and the write.
   */
  public Map<String, String> recordPodChecksums(String ns, String pod, String dir, String lock) {
    return podFiles.recordChecksums(ns, pod, dir, lock);
  }

  /**
   * The request's format; {@code auto} asks the server its {@code server_version_num} (server-side
   * compression came with PostgreSQL 15).
   */
  private ArchiveFormat format(String ns, String pod, BackupRequest r) {
    if (r.format() == null || "gzip".equals(r.format())) {
      return ArchiveFormat.GZIP;
    }
    PodExec.Result v = exec.run(ns, pod, PodCommands.serverVersionNum(r.dbUser()), SHORT);
    String out = v.stdout().strip();
    int version = v.ok() && out.matches("\\d{5,6}") ? Integer.parseInt(out) : 0;
    if (version < 150000 && !"auto".equals(r.format())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "backupFormat "
              + r.format()
              + " is compressed by the server, which PostgreSQL does from version 15; the server in "
              + ns
              + "/"
              + pod
              + " is "
              + (version == 0 ? "of unknown version" : "at server_version_num " + version)
              + ": set backupFormat to auto or gzip",
          FailureTypes.BACKUP_FAILED);
    }
    ArchiveFormat f = ArchiveFormat.forServer(r.format(), version);
    log.info("{}/{}: server_version_num {}: backup format {}", ns, pod, version, f.label);
    return f;
  }

  @Override
  public BackupEvidence copyBackupOut(CopyRequest r) {
    if (BackupActivities.STREAM.equals(r.mode())) {
      return StreamedCopy.confirm(host, r);
    }
    return ResumableDownload.copyOut(exec, podFiles, host, r);
  }

  @Override
  public BackupEvidence verifyBackup(VerifyRequest r) {
    if (r.expected().isEmpty()) {
      return new BackupVerifier(host, kept(r.hostDir())).verify();
    }
    return new BackupVerifier(host, r).verify();
  }

  /**
   * A backup kept by an earlier run (a new run continuing it): what it must still be is what its
   * {@code SHA256SUMS} recorded when that run verified it (written only after the host's hash
   * equalled the pod's); each file is hashed again against it. No file listed: BACKUP_INVALID.
   */
  private static VerifyRequest kept(String hostDir) {
    java.nio.file.Path dir = java.nio.file.Path.of(hostDir);
    Map<String, String> sums;
    try {
      sums = java.nio.file.Files.isDirectory(dir) ? SumsFile.readOnHost(dir) : Map.of();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    if (sums.isEmpty()) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "no verified backup on this host in "
              + hostDir
              + " (no "
              + SumsFile.NAME
              + "): the run that took it ran on another host, or it was removed",
          com.limepoint.opschain.dbupgrade.model.FailureTypes.BACKUP_INVALID);
    }
    List<com.limepoint.opschain.dbupgrade.model.BackupFile> expected = new java.util.ArrayList<>();
    sums.forEach((name, sha) -> {
      java.nio.file.Path f = dir.resolve(name);
      Long size;
      try {
        size = java.nio.file.Files.isRegularFile(f) ? java.nio.file.Files.size(f) : null;
      } catch (java.io.IOException e) {
        size = null;
      }
      expected.add(
          new com.limepoint.opschain.dbupgrade.model.BackupFile(name, size, sha, null, null));
    });
    return new VerifyRequest(hostDir, expected);
  }

  @Override
  public BackupPgVersion backupPgVersion(BackupPgVersionRequest r) {
    return BaseArchive.pgVersion(r);
  }

  @Override
  public ChangeResult uploadBackup(UploadRequest r) {
    // The archives go into the run's own directory in the pod (see RunDir), fenced by its lock.
    String runDir = RunDir.claim(exec, r.namespace(), r.pod(), r.podDir());
    String lock = fence(r.namespace(), r.pod(), runDir, "uploadBackup");
    return new ResumableUpload(exec, podFiles, r.namespace(), r.pod(), lock)
        .uploadAll(r, RunDir.backupDir(runDir));
  }

  /**
   * Makes this attempt the only one changing {@code runDir} (see {@link PodFence}); the lock its
   * commands hold.
   */
  private String fence(String ns, String pod, String runDir, String step) {
    PodFence.Fence f = fence.begin(ns, pod, runDir);
    f.stopped().forEach(what -> log.warn("{} in {}/{}: {}", step, ns, pod, what));
    return f.lock();
  }

  private void refuseDataDirectory(String ns, String pod, BackupRequest r) {
    String[] identity = dataDirs.identity(ns, pod, r.dbUser());
    if (identity == null) {
      throw ApplicationFailure.newFailure(
          "PostgreSQL in pod "
              + ns
              + "/"
              + pod
              + " did not tell its data directory to "
              + r.dbUser()
              + "; nothing was written",
          FailureTypes.BACKUP_FAILED);
    }
    List<String> problems = dataDirs.backupDirProblems(ns, pod, r.podBackupDir(), identity[0]);
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          String.join("; ", problems) + "; nothing was written", FailureTypes.PREFLIGHT_FAILED);
    }
  }
}
