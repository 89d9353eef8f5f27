package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.kube.DataDirectories;
import com.limepoint.opschain.dbupgrade.kube.DbPods;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import com.limepoint.opschain.dbupgrade.kube.LogTail;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.kube.PodFence;
import com.limepoint.opschain.dbupgrade.kube.RunDir;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link BackupActivities} on fabric8 exec and the worker host's file system. */
public class BackupActivitiesImpl implements BackupActivities {
  private static final Logger log = LoggerFactory.getLogger(BackupActivitiesImpl.class);

  /** What pg_basebackup -Ft -z --wal-method=stream writes; the manifest only on PostgreSQL 13+. */
  static final List<String> FILES = List.of("base.tar.gz", "pg_wal.tar.gz", "backup_manifest");

  static final List<String> ARCHIVES = List.of("base.tar.gz", "pg_wal.tar.gz");

  /**
   * The pod-side checksums, in {@code sha256sum -c} format, written beside the backup when
   * pg_basebackup has finished. The host writes the same file name beside its copy.
   */
  public static final String SUMS = "SHA256SUMS";

  private static final Duration SHORT = Duration.ofMinutes(2);
  private static final Duration LONG = Duration.ofHours(12);
  private static final Pattern SUM_LINE = Pattern.compile("([0-9a-f]{64}) [ *](.+)");
  private static final Pattern PERCENT = Pattern.compile("\\((\\d{1,3})%\\)");

  /** Safety factor over the database size: the compressed backup is smaller than this. */
  private static final double SPACE_FACTOR = 1.1;

  private static final long CHECKPOINT_NANOS = 2_000_000_000L;
  private static final long UPLOAD_SEGMENT = 1L << 20;
  private static final int WRITE_BUFFER = 1 << 20;
  private static final long SYNC_STEP = 32L << 20;

  private final KubernetesClient client;
  private final PodExec exec;
  private final PodFence fence;
  private final DataDirectories dataDirs;
  private final String host;

  public BackupActivitiesImpl(KubernetesClient client, String host) {
    this.client = client;
    this.exec = new PodExec(client);
    this.fence = new PodFence(exec);
    this.dataDirs = new DataDirectories(exec);
    this.host = host;
  }

  @Override
  public ChangeResult checkFreeSpace(SpaceRequest r) {
    Path dir = Path.of(r.hostDir());
    Path existing = dir;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    Path base = existing == null ? Path.of("/") : existing;
    try {
      long free;
      try {
        FileStore store = Files.getFileStore(base);
        free = store.getUsableSpace();
      } catch (IOException e) {
        // The mount table may not list the path (a chroot, some container runtimes): statvfs it.
        free = base.toFile().getUsableSpace();
        if (free == 0) {
          throw e;
        }
      }
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
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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

  /** The completion marker in the run's directory: the backup in it is whole and hashed. */
  static final String COMPLETE = "COMPLETE";

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
    // pg_basebackup needs an empty or new target: a folder inside the run's directory.
    String dir = RunDir.backupDir(runDir);
    List<String> listing = exec.check(ns, pod, PodCommands.listDir(runDir), SHORT).lines().toList();
    if (listing.contains(COMPLETE)) {
      log.info("backup in {}/{}:{} is complete for this run; reusing it", ns, pod, dir);
      Map<String, String> sums = readPodChecksums(ns, pod, dir);
      if (sums.isEmpty()) {
        sums = recordPodChecksums(ns, pod, dir, lock);
      }
      return new PodBackup(pod, dir, podFiles(ns, pod, dir, sums), true);
    }
    if (listing.contains(RunDir.BACKUP)) {
      // An earlier attempt of this run was cut off: its partial backup is in this run's own
      // directory (its owner confirmed above), and pg_basebackup needs the target empty.
      log.info("clearing this run's incomplete backup {}/{}:{}", ns, pod, dir);
      exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.removeTree(dir)), SHORT);
    }
    LogTail tail = new LogTail(20);
    double[] percent = {0};
    int code =
        exec.stream(
            ns,
            pod,
            PodCommands.fenced(lock, PodCommands.pgBasebackup(dir, r.dbUser(), r.maxRate())),
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
      throw ApplicationFailure.newFailure(
          "pg_basebackup in "
              + ns
              + "/"
              + pod
              + " exited "
              + code
              + (code == PodCommands.LOCK_BUSY ? " (another attempt holds " + lock + ")" : "")
              + ": "
              + String.join("\n", tail.lines()),
          FailureTypes.BACKUP_FAILED);
    }
    Map<String, String> sums = recordPodChecksums(ns, pod, dir, lock);
    exec.check(
        ns, pod, PodCommands.fenced(lock, PodCommands.touch(runDir + "/" + COMPLETE)), SHORT);
    return new PodBackup(pod, dir, podFiles(ns, pod, dir, sums), false);
  }

  /**
   * Hashes the finished backup in the pod ({@code sha256sum}, once) and writes the sums to {@link
   * #SUMS} beside it. This is the pod's side of the checksum check: the copy out hashes what it
   * receives and compares with these, so a copy that is retried or resumed never hashes the pod's
   * files again. Called by {@link #takeBackup} before the completion marker; {@code lock} fences
   * the hashing and the write.
   */
  public Map<String, String> recordPodChecksums(String ns, String pod, String dir, String lock) {
    List<String> present = exec.check(ns, pod, PodCommands.listDir(dir), SHORT).lines().toList();
    List<String> paths = FILES.stream().filter(present::contains).map(n -> dir + "/" + n).toList();
    Map<String, String> sums =
        parseSums(
            exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.sha256All(paths)), LONG));
    StringBuilder text = new StringBuilder();
    sums.forEach((name, sha) -> text.append(sha).append("  ").append(name).append('\n'));
    exec.writeFile(
        ns,
        pod,
        dir + "/" + SUMS,
        text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8),
        lock);
    return sums;
  }

  /** The sums {@link #recordPodChecksums} wrote, by file name; empty when there are none. */
  private Map<String, String> readPodChecksums(String ns, String pod, String dir) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.read(dir + "/" + SUMS), SHORT);
    return r.ok() ? parseSums(r.stdout()) : Map.of();
  }

  /** {@code sha256sum} output ({@code <hex> <path>}) by base name, for the backup's files only. */
  static Map<String, String> parseSums(String output) {
    Map<String, String> sums = new java.util.LinkedHashMap<>();
    for (String line : output.lines().toList()) {
      Matcher m = SUM_LINE.matcher(line);
      if (m.matches()) {
        String path = m.group(2);
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (FILES.contains(name)) {
          sums.put(name, m.group(1));
        }
      }
    }
    return sums;
  }

  @Override
  public BackupEvidence copyBackupOut(CopyRequest r) {
    Path hostDir = Path.of(r.hostDir());
    try {
      Files.createDirectories(hostDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // One attempt at a time writes into the host dir: a retry stops an earlier one still going.
    try (HostLock lock = HostLock.acquire(hostDir)) {
      List<BackupFile> copied = new ArrayList<>();
      long transferred = 0;
      int resumes = 0;
      Map<String, String> sums = readPodChecksums(r.namespace(), r.pod(), r.podDir());
      for (BackupFile podFile : podFiles(r.namespace(), r.pod(), r.podDir(), sums)) {
        CopyOutcome c = copyFile(r, podFile, hostDir, lock);
        copied.add(c.file());
        transferred += c.transferred();
        resumes += c.resumes();
      }
      lock.check();
      writeSums(hostDir, copied);
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
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  record CopyOutcome(BackupFile file, long transferred, int resumes) {}

  /**
   * Copies one file to {@code <name>.part}, hashing as it goes, from the last durable offset; a
   * stream that ends early (even with exit 0) is resumed from where it stopped. The file is renamed
   * only when size and SHA-256 match the pod's.
   */
  private CopyOutcome copyFile(CopyRequest r, BackupFile listed, Path hostDir, HostLock lock)
      throws IOException {
    String name = listed.name();
    long size = listed.podBytes();
    String podPath = r.podDir() + "/" + name;
    // takeBackup hashed the file in the pod when it was finished. Without those sums (a backup
    // dir from elsewhere), the pod hashes it now, on this thread, so the wait heartbeats.
    String podShaNow =
        listed.podSha256() != null ? listed.podSha256() : podSha(r.namespace(), r.pod(), podPath);
    Path target = hostDir.resolve(name);
    if (Files.exists(target) && Files.size(target) == size) {
      String existing = HostFiles.sha256Hex(target);
      BackupFile podFile = withPodSha(listed, podShaNow);
      if (existing.equals(podFile.podSha256())) {
        return new CopyOutcome(withHost(podFile, size, existing), 0, 0);
      }
      lock.check();
      Files.delete(target);
    }
    Path part = hostDir.resolve(name + ".part");
    long offset = 0;
    if (Files.exists(part)) {
      offset = Math.min(Files.size(part), size);
      var last = Heartbeats.last();
      if (last.isPresent() && name.equals(last.get().file())) {
        offset = Math.min(offset, last.get().offset());
      }
    }
    MessageDigest digest = HostFiles.sha256();
    long transferred = 0;
    int resumes = 0;
    try (FileChannel ch =
        lock.guard(FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE))) {
      ch.truncate(offset);
      HostFiles.digestPrefix(part, offset, digest);
      ch.position(offset);
      int stalls = 0;
      ChannelSink sink = new ChannelSink(ch, digest, name, size, offset);
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
          throw ApplicationFailure.newFailure(
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
        if (offset > size) {
          throw ApplicationFailure.newNonRetryableFailure(
              name + " grew while being copied (" + offset + " > " + size + " bytes)",
              FailureTypes.BACKUP_INVALID);
        }
        if (offset < size) {
          resumes++;
          stalls = offset == before ? stalls + 1 : 0;
          log.warn(
              "stream of {} ended early at {} of {} bytes (exit 0); resuming from there",
              name,
              offset,
              size);
          sink.settle();
          ch.force(false);
          Heartbeats.beat(
              new Checkpoint(
                  "copyBackupOut",
                  name,
                  offset,
                  size,
                  percent(offset, size),
                  "resuming",
                  List.of()));
          if (stalls >= 5) {
            throw ApplicationFailure.newFailure(
                "stream of " + name + " makes no progress at byte " + offset,
                PodExec.POD_COMMAND_FAILED);
          }
        }
      }
      sink.settle();
      ch.force(true);
    }
    String hostSha = HexFormat.of().formatHex(digest.digest());
    BackupFile podFile = withPodSha(listed, podShaNow);
    if (podFile.podSha256() == null) {
      throw ApplicationFailure.newFailure(
          "sha256sum of " + podPath + " in " + r.namespace() + "/" + r.pod() + " failed",
          PodExec.POD_COMMAND_FAILED);
    }
    if (!hostSha.equals(podFile.podSha256())) {
      lock.check();
      Files.deleteIfExists(part);
      throw ApplicationFailure.newNonRetryableFailure(
          name
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
    return new CopyOutcome(withHost(podFile, size, hostSha), transferred, resumes);
  }

  /**
   * Writes the stream into the file and the digest, on the activity's thread, gathered into {@value
   * #WRITE_BUFFER}-byte blocks. The disk writes while the stream runs: once {@value #SYNC_STEP}
   * bytes have been written since the last fsync began, the next one starts on a background thread
   * (one at a time; {@code force} takes no lock that writes need). At most every two seconds the
   * offset that a finished fsync made durable is heartbeated, so a retry resumes from it. A failed
   * fsync fails the copy.
   */
  private static final class ChannelSink extends OutputStream {
    private static final java.util.concurrent.ExecutorService SYNCS =
        java.util.concurrent.Executors.newCachedThreadPool(
            Thread.ofPlatform().daemon().name("copy-fsync-", 0).factory());

    private final FileChannel ch;
    private final MessageDigest digest;
    private final String name;
    private final long size;
    private final ByteBuffer block = ByteBuffer.allocateDirect(WRITE_BUFFER);
    private java.util.concurrent.Future<Long> sync;
    private long syncedFrom;
    private long durable;
    private long beaten;
    private long lastBeat = System.nanoTime();

    ChannelSink(FileChannel ch, MessageDigest digest, String name, long size, long durable) {
      this.ch = ch;
      this.digest = digest;
      this.name = name;
      this.size = size;
      this.durable = durable;
      this.beaten = durable;
      this.syncedFrom = durable;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      digest.update(b, off, len);
      while (len > 0) {
        int n = Math.min(len, block.remaining());
        block.put(b, off, n);
        off += n;
        len -= n;
        if (!block.hasRemaining()) {
          flush();
          startSync();
        }
      }
      if (System.nanoTime() - lastBeat >= CHECKPOINT_NANOS) {
        lastBeat = System.nanoTime();
        if (durable > beaten) {
          beaten = durable;
          Heartbeats.beat(
              new Checkpoint(
                  "copyBackupOut", name, durable, size, percent(durable, size), null, List.of()));
        }
      }
    }

    /** Collects a finished fsync, and starts the next once enough has been written since. */
    private void startSync() throws IOException {
      if (sync != null && sync.isDone()) {
        collect();
      }
      long at = ch.position();
      if (sync == null && at - syncedFrom >= SYNC_STEP) {
        syncedFrom = at;
        sync =
            SYNCS.submit(() -> {
              ch.force(false);
              return at;
            });
      }
    }

    /** Waits for the running fsync, if any; afterwards {@link #durable} is its offset. */
    void settle() throws IOException {
      if (sync != null) {
        collect();
      }
    }

    private void collect() throws IOException {
      try {
        durable = Math.max(durable, sync.get());
      } catch (java.util.concurrent.ExecutionException e) {
        throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while waiting for fsync");
      } finally {
        sync = null;
      }
    }

    /** Writes the gathered bytes; the channel's position is then the bytes received. */
    @Override
    public void flush() throws IOException {
      block.flip();
      while (block.hasRemaining()) {
        ch.write(block);
      }
      block.clear();
    }
  }

  @Override
  public BackupEvidence verifyBackup(VerifyRequest r) {
    Path dir = Path.of(r.hostDir());
    List<String> problems = new ArrayList<>();
    List<String> checks = new ArrayList<>();
    List<BackupFile> files = new ArrayList<>();
    for (String required : ARCHIVES) {
      if (r.expected().stream().noneMatch(f -> f.name().equals(required))) {
        problems.add(required + " is missing from the backup");
      }
    }
    try {
      for (BackupFile f : r.expected()) {
        Path p = dir.resolve(f.name());
        if (!Files.isRegularFile(p)) {
          problems.add(f.name() + " is not on the host in " + dir);
          continue;
        }
        long size = Files.size(p);
        String sha = HostFiles.sha256Hex(p);
        files.add(new BackupFile(f.name(), f.podBytes(), f.podSha256(), size, sha));
        if (size == 0) {
          problems.add(f.name() + " is empty");
        }
        if (f.podBytes() == null || size != f.podBytes()) {
          problems.add(
              f.name() + " is " + size + " bytes on the host but " + f.podBytes() + " in the pod");
        }
        if (!sha.equals(f.podSha256())) {
          problems.add(f.name() + " SHA-256 " + sha + " differs from the pod's " + f.podSha256());
        }
        if (f.name().endsWith(".gz")) {
          HostFiles.Result gz = HostFiles.run(List.of("gzip", "-t", p.toString()));
          if (gz.exitCode() != 0) {
            problems.add("gzip -t " + f.name() + " failed: " + gz.output().strip());
          } else {
            checks.add("gzip -t " + f.name() + " passed");
          }
          HostFiles.Result tar = HostFiles.run(List.of("tar", "-tzf", p.toString()));
          List<String> entries =
              tar.output().lines().map(e -> e.startsWith("./") ? e.substring(2) : e).toList();
          if (tar.exitCode() != 0 || entries.isEmpty()) {
            problems.add("tar -tzf " + f.name() + " failed: " + PodExecTail.tail(tar.output()));
          } else {
            checks.add("tar -tzf " + f.name() + " lists " + entries.size() + " entries");
          }
          if (f.name().equals("base.tar.gz")) {
            for (String must : List.of("PG_VERSION", "backup_label")) {
              if (!entries.contains(must)) {
                problems.add("base.tar.gz does not hold " + must);
              }
            }
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the backup in " + host + ":" + dir + " is not valid: " + String.join("; ", problems),
          FailureTypes.BACKUP_INVALID);
    }
    checks.add(0, "every file non-empty, sizes and SHA-256 equal in the pod and on the host");
    checks.add("base.tar.gz holds PG_VERSION and backup_label");
    return new BackupEvidence(host, r.hostDir(), files, checks, true);
  }

  @Override
  public ChangeResult uploadBackup(UploadRequest r) {
    String ns = r.namespace();
    String pod = r.pod();
    // The archives go into the run's own directory in the pod (see RunDir), fenced by its lock.
    String runDir = RunDir.claim(exec, ns, pod, r.podDir());
    String lock = fence(ns, pod, runDir, "uploadBackup");
    String podDir = RunDir.backupDir(runDir);
    exec.check(ns, pod, PodCommands.mkdirs(podDir), SHORT);
    List<String> uploaded = new ArrayList<>();
    try {
      for (BackupFile f : r.files()) {
        Path source = Path.of(r.hostDir()).resolve(f.name());
        long size = Files.size(source);
        String sha = HostFiles.sha256Hex(source);
        if (!sha.equals(f.hostSha256())) {
          throw ApplicationFailure.newNonRetryableFailure(
              f.name() + " on the host no longer matches the verified SHA-256",
              FailureTypes.BACKUP_CHECKSUM_MISMATCH);
        }
        String target = podDir + "/" + f.name();
        if (podSize(ns, pod, target) == size && sha.equals(podSha(ns, pod, target))) {
          continue;
        }
        String part = target + ".part";
        long offset = podSize(ns, pod, part);
        if (offset < 0 || offset > size) {
          offset = 0;
        }
        int stalls = 0;
        while (offset < size) {
          // One bounded segment per exec. fabric8's JDK websocket refuses a send while the
          // previous one is pending, so a segment can stop short: the pod-side size is the
          // verified offset to resume from, and the SHA-256 below is the final word.
          long count = Math.min(UPLOAD_SEGMENT, size - offset);
          PodExec.Result w;
          try (InputStream in = Files.newInputStream(source)) {
            in.skipNBytes(offset);
            w =
                exec.feed(
                    ns,
                    pod,
                    PodCommands.fenced(lock, PodCommands.writeAt(part, offset, count)),
                    new BoundedStream(in, count),
                    LONG);
          }
          long now = podSize(ns, pod, part);
          if (now < offset || now > offset + count) {
            throw ApplicationFailure.newFailure(
                part
                    + " in "
                    + ns
                    + "/"
                    + pod
                    + " is "
                    + now
                    + " bytes, expected "
                    + offset
                    + " to "
                    + (offset + count),
                PodExec.POD_COMMAND_FAILED);
          }
          stalls = now == offset ? stalls + 1 : 0;
          if (stalls >= 5) {
            throw ApplicationFailure.newFailure(
                "upload of "
                    + f.name()
                    + " to "
                    + ns
                    + "/"
                    + pod
                    + " makes no progress at byte "
                    + offset
                    + " (exit "
                    + w.exitCode()
                    + "): "
                    + w.stderr(),
                PodExec.POD_COMMAND_FAILED);
          }
          offset = now;
          Heartbeats.beat(
              new Checkpoint(
                  "uploadBackup", f.name(), offset, size, percent(offset, size), null, List.of()));
        }
        String inPod = podSha(ns, pod, part);
        if (!sha.equals(inPod)) {
          exec.run(ns, pod, PodCommands.fenced(lock, PodCommands.removeFile(part)), SHORT);
          throw ApplicationFailure.newFailure(
              f.name()
                  + " in the pod hashes to "
                  + inPod
                  + ", not "
                  + sha
                  + "; the partial upload was removed",
              PodExec.POD_COMMAND_FAILED);
        }
        exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.move(part, target)), SHORT);
        uploaded.add(f.name());
        Heartbeats.beat(
            new Checkpoint("uploadBackup", f.name(), size, size, 100.0, "uploaded", List.of()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return uploaded.isEmpty()
        ? ChangeResult.unchanged(
            "all "
                + r.files().size()
                + " files already in "
                + pod
                + ":"
                + podDir
                + " with matching SHA-256")
        : ChangeResult.changed(
            "uploaded "
                + String.join(", ", uploaded)
                + " to "
                + pod
                + ":"
                + podDir
                + ", SHA-256 checked in the pod");
  }

  /**
   * The backup files present in the pod, with sizes, and the recorded SHA-256 when there is one.
   */
  private List<BackupFile> podFiles(String ns, String pod, String dir, Map<String, String> sums) {
    List<String> present = exec.check(ns, pod, PodCommands.listDir(dir), SHORT).lines().toList();
    List<BackupFile> files = new ArrayList<>();
    for (String name : FILES) {
      if (!present.contains(name)) {
        if (ARCHIVES.contains(name)) {
          throw ApplicationFailure.newNonRetryableFailure(
              name + " is missing from " + ns + "/" + pod + ":" + dir, FailureTypes.BACKUP_INVALID);
        }
        continue;
      }
      String path = dir + "/" + name;
      long size = podSize(ns, pod, path);
      if (size <= 0) {
        throw ApplicationFailure.newNonRetryableFailure(
            name + " in " + ns + "/" + pod + ":" + dir + " is empty", FailureTypes.BACKUP_INVALID);
      }
      files.add(new BackupFile(name, size, sums.get(name), null, null));
    }
    return files;
  }

  /** Size of a file in the pod, or -1 when it does not exist. */
  private long podSize(String ns, String pod, String path) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.size(path), SHORT);
    return r.ok() ? Long.parseLong(r.stdout().strip()) : -1;
  }

  private String podSha(String ns, String pod, String path) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.sha256(path), LONG);
    if (!r.ok()) {
      return null;
    }
    String out = r.stdout().strip();
    int space = out.indexOf(' ');
    return space > 0 ? out.substring(0, space) : out;
  }

  private static BackupFile withPodSha(BackupFile f, String podSha) {
    return new BackupFile(f.name(), f.podBytes(), podSha, f.hostBytes(), f.hostSha256());
  }

  private static BackupFile withHost(BackupFile f, long hostBytes, String hostSha) {
    return new BackupFile(f.name(), f.podBytes(), f.podSha256(), hostBytes, hostSha);
  }

  private static void writeSums(Path dir, List<BackupFile> files) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (BackupFile f : files) {
      sb.append(f.hostSha256()).append("  ").append(f.name()).append('\n');
    }
    Path tmp = dir.resolve("SHA256SUMS.part");
    Files.writeString(tmp, sb);
    Files.move(
        tmp,
        dir.resolve("SHA256SUMS"),
        StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }

  private static Double percent(long at, long size) {
    return size == 0 ? 100.0 : Math.floor(1000.0 * at / size) / 10;
  }

  /** At most {@code limit} bytes of an underlying stream, leaving the rest unread. */
  private static final class BoundedStream extends InputStream {
    private final InputStream in;
    private long left;

    BoundedStream(InputStream in, long limit) {
      this.in = in;
      this.left = limit;
    }

    @Override
    public int read() throws IOException {
      if (left <= 0) {
        return -1;
      }
      int b = in.read();
      if (b >= 0) {
        left--;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (left <= 0) {
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n > 0) {
        left -= n;
      }
      return n;
    }
  }

  /** Output tails for messages. */
  private static final class PodExecTail {
    static String tail(String s) {
      String t = s.strip();
      return t.length() <= 500 ? t : "..." + t.substring(t.length() - 500);
    }
  }
}
