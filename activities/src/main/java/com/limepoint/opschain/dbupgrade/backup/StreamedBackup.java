package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.BackupRequest;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities.PodBackup;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import com.limepoint.opschain.dbupgrade.kube.LogTail;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code backupMode: stream}: {@code pg_basebackup -D - -Ft -X fetch} in the db pod, its stdout
 * streamed straight to the host (nothing written to the pod's disk), written, hashed and checked
 * ({@link ArchiveCheck}) on the way in one pass. In the pod, {@code tee} hands the same bytes to
 * {@code sha256sum} through a FIFO in the run's directory, so the pod's SHA-256 of what it sent is
 * compared with the host's at the end. {@code -X fetch} puts the WAL into the one archive (OpsChain
 * is stopped, so the server keeps the few segments the backup needs). A server-compressed stream
 * needs {@code --no-manifest}: pg_basebackup cannot inject the manifest into a compressed tar it
 * writes to stdout ("cannot inject manifest into a compressed tar file", PostgreSQL 15
 * src/bin/pg_basebackup/pg_basebackup.c).
 */
final class StreamedBackup {
  private static final Logger log = LoggerFactory.getLogger(StreamedBackup.class);
  private static final Duration LONG = Duration.ofHours(12);
  private static final Pattern PERCENT = Pattern.compile("\\((\\d{1,3})%\\)");

  private StreamedBackup() {}

  /** The last stderr line of {@link #command}: exit codes and the SHA-256 of what it sent. */
  static final String STREAM_DONE = "opschain-stream-done";

  private static final Pattern DONE =
      Pattern.compile(STREAM_DONE + " pg_basebackup=(\\d+) tee=(\\d+) sha256=(\\S*)");

  /**
   * The streamed backup: pg_basebackup writes one tar (WAL fetched into it) to stdout, and {@code
   * tee} hands the same bytes to {@code sha256sum} through a FIFO in {@code runDir}, so the pod
   * hashes what it sent as it sends it; the last stderr line is {@link #STREAM_DONE} with
   * pg_basebackup's and tee's exit codes and that SHA-256. The script is a constant; the run
   * directory and pg_basebackup's argv are its positional parameters, never spliced into it.
   */
  static List<String> command(String runDir, String user, String maxRate, List<String> compress) {
    List<String> argv = new java.util.ArrayList<>(List.of("sh", "-c", STREAM_SCRIPT, "sh", runDir));
    argv.addAll(PodCommands.pgBasebackup("-", user, maxRate, compress));
    return List.copyOf(argv);
  }

  private static final String STREAM_SCRIPT =
      """
      d=$1; shift
      rm -f "$d/stream.fifo" "$d/stream.sum" "$d/stream.rc"
      mkfifo "$d/stream.fifo" || exit 90
      sha256sum < "$d/stream.fifo" > "$d/stream.sum" &
      h=$!
      { "$@"; echo $? > "$d/stream.rc"; } | tee "$d/stream.fifo"
      t=$?
      wait $h
      rc=$(cat "$d/stream.rc" 2>/dev/null || echo 91)
      sum=$(cut -d' ' -f1 "$d/stream.sum" 2>/dev/null)
      echo "%s pg_basebackup=$rc tee=$t sha256=$sum" >&2
      rm -f "$d/stream.fifo" "$d/stream.sum" "$d/stream.rc"
      [ "$rc" = 0 ] && [ "$t" = 0 ]
      """
          .formatted(STREAM_DONE);

  /** The archive's name on the host: one tar, WAL inside. */
  static String archiveName(ArchiveFormat format) {
    return "base.tar" + format.suffix;
  }

  /**
   * Streams the backup to {@code r.hostDir()}; reuses it when a complete, checked copy of it is
   * there already (a retry after the stream finished).
   */
  static PodBackup take(
      PodExec exec,
      String ns,
      String pod,
      String runDir,
      String lock,
      BackupRequest r,
      ArchiveFormat format) {
    Path hostDir = Path.of(r.hostDir());
    String name = archiveName(format);
    Path target = hostDir.resolve(name);
    try {
      Files.createDirectories(hostDir);
      try (HostLock host = HostLock.acquire(hostDir)) {
        Map<String, String> sums = SumsFile.readOnHost(hostDir);
        String kept = sums.get(name);
        if (kept != null && ArchiveCheck.recorded(target, kept).isPresent()) {
          log.info("streamed backup {} is complete for this run; reusing it", target);
          long size = Files.size(target);
          return new PodBackup(pod, runDir, List.of(file(name, size, kept, kept)), true);
        }
        return stream(exec, ns, pod, runDir, lock, r, format, host, target);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static PodBackup stream(
      PodExec exec,
      String ns,
      String pod,
      String runDir,
      String lock,
      BackupRequest r,
      ArchiveFormat format,
      HostLock host,
      Path target)
      throws IOException {
    String name = target.getFileName().toString();
    Path part = target.resolveSibling(name + ".part");
    MessageDigest digest = HostFiles.sha256();
    LogTail tail = new LogTail(20);
    String[] done = {null};
    int code;
    ArchiveCheck.Result checked;
    try (FileChannel ch =
            host.guard(
                FileChannel.open(
                    part,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING));
        ArchiveCheck.Tap tap = new ArchiveCheck.Tap(name)) {
      ChannelSink sink = new ChannelSink(ch, digest, tap, name, 0, 0);
      List<String> argv =
          PodCommands.fenced(
              lock, command(runDir, r.dbUser(), r.maxRate(), format.compressArgs(true)));
      code = exec.stream(ns, pod, argv, sink, progress(name, tail, done), LONG);
      sink.flush();
      sink.settle();
      ch.force(true);
      checked = tap.finish();
    }
    String hostSha = HexFormat.of().formatHex(digest.digest());
    String podSha = podSha(ns, pod, lock, code, done[0], tail);
    requireSame(host, part, podSha, hostSha);
    Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    HostFiles.fsyncDir(target.getParent());
    ArchiveCheck.record(target, hostSha, checked);
    SumsFile.writeOnHost(target.getParent(), Map.of(name, hostSha));
    long size = Files.size(target);
    log.info("streamed {} bytes of {} from {}/{} to {}", size, name, ns, pod, target);
    return new PodBackup(pod, runDir, List.of(file(name, size, podSha, hostSha)), false);
  }

  /**
   * The pod's SHA-256 of what it sent against the host's; the partial file goes when they differ.
   */
  private static void requireSame(HostLock host, Path part, String podSha, String hostSha)
      throws IOException {
    host.check();
    if (!podSha.equals(hostSha)) {
      Files.deleteIfExists(part);
      throw ApplicationFailure.newFailure(
          part.getFileName()
              + ": the pod sent bytes hashing to "
              + podSha
              + " but the host received "
              + hostSha
              + "; the partial file was deleted and the backup is taken again",
          // A stream cut on the way, not a bad backup: retried, the backup is streamed again.
          PodExec.POD_COMMAND_FAILED);
    }
  }

  /**
   * pg_basebackup's stderr: each line into the log tail and a heartbeat with its {@code -P}
   * percentage; the script's last line into {@code done}.
   */
  private static java.util.function.Consumer<String> progress(
      String name, LogTail tail, String[] done) {
    double[] percent = {0};
    return line -> {
      if (line.startsWith(STREAM_DONE)) {
        done[0] = line;
        return;
      }
      tail.accept(line);
      Matcher m = PERCENT.matcher(line);
      if (m.find()) {
        percent[0] = Double.parseDouble(m.group(1));
      }
      Heartbeats.beat(new Checkpoint("takeBackup", name, 0, 0, percent[0], line, tail.lines()));
    };
  }

  /** The pod's SHA-256 of what it sent, from the script's last line; BACKUP_FAILED if it failed. */
  private static String podSha(
      String ns, String pod, String lock, int code, String done, LogTail tail) {
    Matcher m = done == null ? null : DONE.matcher(done);
    boolean ok = code == 0 && m != null && m.find() && m.group(1).equals("0");
    if (!ok) {
      throw PgBasebackup.failed(
          "streaming pg_basebackup",
          ns,
          pod,
          code,
          lock,
          Optional.ofNullable(done)
              .map(d -> " (" + d + ")")
              .orElse(" before the pod reported the SHA-256 of what it sent (cut on the way?)"),
          tail);
    }
    return m.group(3);
  }

  private static BackupFile file(String name, long size, String podSha, String hostSha) {
    return new BackupFile(name, size, podSha, size, hostSha);
  }
}
