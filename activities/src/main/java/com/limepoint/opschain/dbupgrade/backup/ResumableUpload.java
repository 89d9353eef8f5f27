package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.UploadRequest;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The upload: each verified backup file from the host into a directory of the pod, one bounded
 * segment per exec into {@code <name>.part}, resumed from the pod-side size, and renamed only when
 * its SHA-256 in the pod is the verified one. Every pod write is fenced by the run's lock.
 */
final class ResumableUpload {
  private static final Duration SHORT = Duration.ofMinutes(2);
  private static final Duration LONG = Duration.ofHours(12);
  private static final long SEGMENT = 64L << 20;

  private final PodExec exec;
  private final PodFiles podFiles;
  private final String ns;
  private final String pod;
  private final String lock;

  ResumableUpload(PodExec exec, PodFiles podFiles, String ns, String pod, String lock) {
    this.exec = exec;
    this.podFiles = podFiles;
    this.ns = ns;
    this.pod = pod;
    this.lock = lock;
  }

  /** Uploads those of {@code r}'s files that are not in {@code podDir} with the right SHA-256. */
  ChangeResult uploadAll(UploadRequest r, String podDir) {
    exec.check(ns, pod, PodCommands.mkdirs(podDir), SHORT);
    List<String> uploaded = new ArrayList<>();
    try {
      for (BackupFile f : r.files()) {
        if (upload(Path.of(r.hostDir()).resolve(f.name()), f, podDir)) {
          uploaded.add(f.name());
        }
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
   * Uploads one file; false when it was in the pod already. A zstd archive is decompressed on the
   * way and lands as a plain tar ({@code base.tar.zst} as {@code base.tar}), so the restore image
   * needs no decompressor; its size and SHA-256 are those the archive check recorded.
   */
  private boolean upload(Path source, BackupFile f, String podDir) throws IOException {
    boolean decompress = ArchiveFormat.decompressedOnUpload(f.name());
    var checked = ArchiveCheck.recorded(source, f.hostSha256());
    if (decompress && checked.isEmpty()
        || !decompress && checked.isEmpty() && !unchanged(source, f)) {
      throw ApplicationFailure.newNonRetryableFailure(
          f.name() + " on the host no longer matches the verified SHA-256",
          FailureTypes.BACKUP_CHECKSUM_MISMATCH);
    }
    String name = decompress ? ArchiveFormat.plainName(f.name()) : f.name();
    long size = decompress ? checked.get().plainBytes() : Files.size(source);
    String sha = decompress ? checked.get().plainSha256() : f.hostSha256();
    String target = podDir + "/" + name;
    if (podFiles.size(ns, pod, target) == size && sha.equals(podFiles.sha256(ns, pod, target))) {
      return false;
    }
    String part = target + ".part";
    long offset = podFiles.size(ns, pod, part);
    if (offset < 0 || offset > size) {
      offset = 0;
    }
    try (Source in = new Source(source, decompress)) {
      send(in, name, part, offset, size);
    }
    String inPod = podFiles.sha256(ns, pod, part);
    if (!sha.equals(inPod)) {
      exec.run(ns, pod, PodCommands.fenced(lock, PodCommands.removeFile(part)), SHORT);
      throw ApplicationFailure.newFailure(
          name
              + " in the pod hashes to "
              + inPod
              + ", not "
              + sha
              + "; the partial upload was removed",
          PodExec.POD_COMMAND_FAILED);
    }
    exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.move(part, target)), SHORT);
    Heartbeats.beat(CopyProgress.at("uploadBackup", name, size, size, "uploaded"));
    return true;
  }

  /** A file without a check record (backup_manifest): hashed again, as it is small. */
  private static boolean unchanged(Path source, BackupFile f) throws IOException {
    return HostFiles.sha256Hex(source).equals(f.hostSha256());
  }

  /** Writes {@code in} into {@code part} from {@code offset} on, segment by segment. */
  private void send(Source in, String name, String part, long offset, long size)
      throws IOException {
    StallRule stalls = new StallRule();
    while (offset < size) {
      // One bounded segment per exec (two execs per segment: the write and its size). A cut
      // connection can stop a segment short: the pod-side size is the verified offset to
      // resume from, and the SHA-256 in the pod is the final word.
      long count = Math.min(SEGMENT, size - offset);
      PodExec.Result w =
          exec.feed(
              ns,
              pod,
              PodCommands.fenced(lock, PodCommands.writeAt(part, offset, count)),
              new BoundedStream(in.at(offset), count),
              LONG);
      long now = podFiles.size(ns, pod, part);
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
                + (offset + count)
                + " (exit "
                + w.exitCode()
                + ": "
                + w.stderr().strip()
                + ")",
            PodExec.POD_COMMAND_FAILED);
      }
      if (stalls.giveUp(offset, now)) {
        throw ApplicationFailure.newFailure(
            "upload of "
                + name
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
      Heartbeats.beat(CopyProgress.at("uploadBackup", name, offset, size, null));
    }
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

  /**
   * The bytes to upload, read on from where the last segment stopped; opened again (and, for an
   * archive decompressed on the way, decompressed again up to there) only when the pod's size says
   * a segment stopped short.
   */
  private static final class Source implements AutoCloseable {
    private final Path file;
    private final boolean decompress;
    private InputStream in;
    private InputStream decoder;
    private long position;

    Source(Path file, boolean decompress) {
      this.file = file;
      this.decompress = decompress;
    }

    InputStream at(long offset) throws IOException {
      if (in == null || position != offset) {
        close();
        InputStream raw = Files.newInputStream(file);
        String name = file.getFileName().toString();
        // Decompressed ahead, on a thread of its own, while the exec sends (ReadAhead).
        decoder = decompress ? ArchiveFormat.ofFile(name).decompress(raw) : raw;
        in = decompress ? new ReadAhead(decoder, name) : raw;
        in.skipNBytes(offset);
        position = offset;
      }
      return new InputStream() {
        @Override
        public int read() throws IOException {
          int b = in.read();
          position += b < 0 ? 0 : 1;
          return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          // A decompressor may return 0 bytes between blocks; the feed reads on until -1.
          int n = 0;
          while (n == 0 && len > 0) {
            n = in.read(b, off, len);
          }
          position += Math.max(n, 0);
          return n;
        }
      };
    }

    @Override
    public void close() throws IOException {
      if (in != null) {
        try {
          in.close(); // a ReadAhead stops its thread first; then the decoder closes
        } finally {
          decoder.close();
        }
        in = null;
        decoder = null;
      }
    }
  }
}
