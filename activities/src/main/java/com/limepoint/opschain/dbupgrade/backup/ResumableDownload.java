package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.CopyRequest;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The copy out: each backup file from the pod into the host's directory, hashed as it arrives and
 * written through the {@link ChannelSink} fsync pipeline, resumed from the last durable offset when
 * a stream ends early, and kept only when size and SHA-256 match the pod's. One attempt at a time
 * writes into the host's directory ({@link HostLock}).
 */
final class ResumableDownload {
  private static final Logger log = LoggerFactory.getLogger(ResumableDownload.class);
  private static final Duration LONG = Duration.ofHours(12);

  private final PodExec exec;
  private final PodFiles podFiles;
  private final String host;
  private final CopyRequest r;
  private final Path hostDir;
  private final HostLock lock;

  private record Outcome(BackupFile file, long transferred, int resumes) {}

  private record Streamed(long transferred, int resumes) {}

  private ResumableDownload(
      PodExec exec, PodFiles podFiles, String host, CopyRequest r, Path hostDir, HostLock lock) {
    this.exec = exec;
    this.podFiles = podFiles;
    this.host = host;
    this.r = r;
    this.hostDir = hostDir;
    this.lock = lock;
  }

  /** Copies every backup file of {@code r}'s pod directory into its host directory. */
  static BackupEvidence copyOut(PodExec exec, PodFiles podFiles, String host, CopyRequest r) {
    Path hostDir = Path.of(r.hostDir());
    try {
      Files.createDirectories(hostDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // One attempt at a time writes into the host dir: a retry stops an earlier one still going.
    try (HostLock lock = HostLock.acquire(hostDir)) {
      return new ResumableDownload(exec, podFiles, host, r, hostDir, lock).copyAll();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private BackupEvidence copyAll() throws IOException {
    List<BackupFile> copied = new ArrayList<>();
    long transferred = 0;
    int resumes = 0;
    Map<String, String> sums = SumsFile.readInPod(exec, r.namespace(), r.pod(), r.podDir());
    for (BackupFile podFile : podFiles.backupFiles(r.namespace(), r.pod(), r.podDir(), sums)) {
      Outcome c = copy(podFile);
      copied.add(c.file());
      transferred += c.transferred();
      resumes += c.resumes();
    }
    lock.check();
    Map<String, String> hostSums = new LinkedHashMap<>();
    copied.forEach(f -> hostSums.put(f.name(), f.hostSha256()));
    SumsFile.writeOnHost(hostDir, hostSums);
    return new BackupEvidence(
        host,
        r.hostDir(),
        copied,
        List.of(
            "copied "
                + transferred
                + " bytes from "
                + r.namespace()
                + "/"
                + r.pod()
                + ":"
                + r.podDir()
                + (resumes > 0 ? " (stream resumed " + resumes + " times)" : ""),
            "SHA-256 in the pod equals SHA-256 on the host for every file"),
        false);
  }

  /**
   * Copies one file to {@code <name>.part}, hashing as it goes, from the last durable offset; a
   * stream that ends early (even with exit 0) is resumed from where it stopped. The file is renamed
   * only when size and SHA-256 match the pod's.
   */
  private Outcome copy(BackupFile listed) throws IOException {
    String name = listed.name();
    long size = listed.podBytes();
    String podPath = r.podDir() + "/" + name;
    // takeBackup hashed the file in the pod when it was finished. Without those sums (a backup
    // dir from elsewhere), the pod hashes it now, on this thread, so the wait heartbeats.
    String podShaNow =
        listed.podSha256() != null
            ? listed.podSha256()
            : podFiles.sha256(r.namespace(), r.pod(), podPath);
    BackupFile podFile = withPodSha(listed, podShaNow);
    Path target = hostDir.resolve(name);
    if (Files.exists(target) && Files.size(target) == size) {
      String existing = HostFiles.sha256Hex(target);
      if (existing.equals(podFile.podSha256())) {
        return new Outcome(withHost(podFile, size, existing), 0, 0);
      }
      lock.check();
      Files.delete(target);
    }
    Path part = hostDir.resolve(name + ".part");
    MessageDigest digest = HostFiles.sha256();
    // The archive check runs beside the copy, on the same bytes: verifyBackup reads its record
    // instead of the archive (gzip -t and tar -t each read it again inside the downtime).
    try (ArchiveCheck.Tap tap = new ArchiveCheck.Tap(name)) {
      Streamed streamed = stream(name, size, part, resumeOffset(part, name, size), digest, tap);
      String hostSha = HexFormat.of().formatHex(digest.digest());
      ArchiveCheck.Result checked = tap.finish();
      keep(podFile, podPath, part, target, hostSha);
      if (ArchiveFormat.isArchive(name)) {
        ArchiveCheck.record(target, hostSha, checked);
      }
      return new Outcome(
          withHost(podFile, size, hostSha), streamed.transferred(), streamed.resumes());
    }
  }

  /** Where a part file left by an earlier attempt resumes: no further than its last heartbeat. */
  private static long resumeOffset(Path part, String name, long size) throws IOException {
    if (!Files.exists(part)) {
      return 0;
    }
    long offset = Math.min(Files.size(part), size);
    var last = Heartbeats.last();
    if (last.isPresent() && name.equals(last.get().file())) {
      offset = Math.min(offset, last.get().offset());
    }
    return offset;
  }

  /** Streams the file from {@code offset} into {@code part} until it has all {@code size} bytes. */
  private Streamed stream(
      String name, long size, Path part, long offset, MessageDigest digest, OutputStream tap)
      throws IOException {
    long transferred = 0;
    int resumes = 0;
    try (FileChannel ch =
        lock.guard(FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE))) {
      ch.truncate(offset);
      HostFiles.digestPrefix(part, offset, digest, tap);
      ch.position(offset);
      StallRule stalls = new StallRule();
      ChannelSink sink = new ChannelSink(ch, digest, tap, name, size, offset);
      while (offset < size) {
        long before = offset;
        PodExec.Result read;
        try {
          read =
              exec.download(
                  r.namespace(),
                  r.pod(),
                  PodCommands.readFrom(r.podDir() + "/" + name, offset),
                  sink,
                  LONG);
        } finally {
          sink.flush();
        }
        offset = ch.position();
        transferred += offset - before;
        if (!read.ok()) {
          sink.settle();
          ch.force(true);
          throw readFailed(name, read, offset);
        }
        if (offset > size) {
          throw ApplicationFailure.newNonRetryableFailure(
              name + " grew while being copied (" + offset + " > " + size + " bytes)",
              FailureTypes.BACKUP_INVALID);
        }
        if (offset < size) {
          resumes++;
          resumeAfterEarlyEnd(name, before, offset, size, stalls, sink, ch);
        }
      }
      sink.settle();
      ch.force(true);
    }
    return new Streamed(transferred, resumes);
  }

  /** A stream that ended early: make what came durable, heartbeat it, give up when stalled. */
  private static void resumeAfterEarlyEnd(
      String name,
      long before,
      long offset,
      long size,
      StallRule stalls,
      ChannelSink sink,
      FileChannel ch)
      throws IOException {
    boolean giveUp = stalls.giveUp(before, offset);
    log.warn(
        "stream of {} ended early at {} of {} bytes (exit 0); resuming from there",
        name,
        offset,
        size);
    sink.settle();
    ch.force(false);
    Heartbeats.beat(CopyProgress.at("copyBackupOut", name, offset, size, "resuming"));
    if (giveUp) {
      throw ApplicationFailure.newFailure(
          "stream of " + name + " makes no progress at byte " + offset, PodExec.POD_COMMAND_FAILED);
    }
  }

  private ApplicationFailure readFailed(String name, PodExec.Result read, long offset) {
    return ApplicationFailure.newFailure(
        "reading "
            + name
            + " in "
            + r.namespace()
            + "/"
            + r.pod()
            + " exited "
            + read.exitCode()
            + " at byte "
            + offset
            + ": "
            + read.stderr().strip(),
        PodExec.POD_COMMAND_FAILED);
  }

  /** Renames the part file to its name when it hashes as in the pod; deletes it when not. */
  private void keep(BackupFile podFile, String podPath, Path part, Path target, String hostSha)
      throws IOException {
    if (podFile.podSha256() == null) {
      throw ApplicationFailure.newFailure(
          "sha256sum of " + podPath + " in " + r.namespace() + "/" + r.pod() + " failed",
          PodExec.POD_COMMAND_FAILED);
    }
    if (!hostSha.equals(podFile.podSha256())) {
      lock.check();
      Files.deleteIfExists(part);
      throw ApplicationFailure.newNonRetryableFailure(
          podFile.name()
              + ": SHA-256 in the pod is "
              + podFile.podSha256()
              + " but the copy on "
              + host
              + " hashes to "
              + hostSha
              + "; the copy was deleted",
          FailureTypes.BACKUP_CHECKSUM_MISMATCH);
    }
    lock.check();
    Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    HostFiles.fsyncDir(hostDir);
  }

  private static BackupFile withPodSha(BackupFile f, String podSha) {
    return new BackupFile(f.name(), f.podBytes(), podSha, f.hostBytes(), f.hostSha256());
  }

  private static BackupFile withHost(BackupFile f, long hostBytes, String hostSha) {
    return new BackupFile(f.name(), f.podBytes(), f.podSha256(), hostBytes, hostSha);
  }
}
