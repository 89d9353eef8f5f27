package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.time.Duration;
import java.util.HexFormat;

/**
 * An archive (zstd, gzip or a plain tar) decompressed on the worker straight into {@code tar -xf -}
 * in a pod, in one exec: no copy of the archive (or of its plain tar) on the pod's disk, nothing
 * for the image to decompress. The restore rehearsal extracts every archive this way. The worker
 * hashes the archive's bytes as it reads them and compares them with the verified SHA-256, and
 * counts the plain bytes against the archive check's; the decompression runs ahead of the send on a
 * thread of its own ({@link ReadAhead}). The stream is padded with zeros to a whole tar record
 * (10240 bytes, GNU tar's default blocking factor 20 of 512-byte blocks), so tar, which reads whole
 * records from a pipe, has its end-of-archive blocks without waiting for the end of stdin.
 */
final class StreamedExtract {
  /**
   * How long tar may take after the last byte was sent. A send the websocket refused leaves tar
   * waiting for bytes that never come; this bounds that wait, and the attempt fails (retryably).
   */
  private static final Duration AFTER_LAST_BYTE = Duration.ofMinutes(10);

  private static final int RECORD = 20 * 512;

  private StreamedExtract() {}

  static void extract(
      PodExec exec, String ns, String pod, Path hostDir, BackupFile f, String into) {
    Path source = hostDir.resolve(f.name());
    try {
      ArchiveCheck.Result checked =
          ArchiveCheck.recorded(source, f.hostSha256())
              .orElseThrow(() ->
                  ApplicationFailure.newNonRetryableFailure(
                      f.name() + " on the host no longer matches the verified SHA-256",
                      FailureTypes.BACKUP_CHECKSUM_MISMATCH));
      // The archive's own bytes are hashed as they are read, and compared with the SHA-256 that the
      // pod reported and the host verified: what was sent was decompressed from exactly the
      // verified archive (what tar made of it, the rehearsal's census checks). The plain tar is
      // counted, not hashed again (hashing 4.7 GB took as long as decompressing it).
      DigestInputStream archive =
          new DigestInputStream(Files.newInputStream(source), HostFiles.sha256());
      Sent sent;
      try (archive;
          InputStream decompressed = ArchiveFormat.ofFile(f.name()).decompress(archive)) {
        sent = send(exec, ns, pod, f, into, archive, decompressed, checked.plainBytes());
      }
      String read = hex(archive);
      PodExec.Result x = sent.result();
      if (!x.ok() && x.exitCode() != PodExec.UNKNOWN_EXIT) {
        throw ApplicationFailure.newFailure(
            "tar -xf - into "
                + into
                + " in "
                + ns
                + "/"
                + pod
                + " exited "
                + x.exitCode()
                + ": "
                + x.stderr().strip(),
            PodExec.POD_COMMAND_FAILED);
      }
      if (!read.equals(f.hostSha256()) || sent.plainBytes() != checked.plainBytes()) {
        throw mismatch(f, read, sent.plainBytes(), checked.plainBytes(), null);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private record Sent(PodExec.Result result, long plainBytes) {}

  /**
   * Feeds the decompressed archive into tar, then reads the archive to its end (trailing bytes the
   * decompressor left are part of the verified file too). On a failure, the archive's hash says
   * whether it changed since its verification, which usually shows first as a failed decompression.
   */
  private static Sent send(
      PodExec exec,
      String ns,
      String pod,
      BackupFile f,
      String into,
      DigestInputStream archive,
      InputStream decompressed,
      long expected)
      throws IOException {
    Padded padded;
    PodExec.Result x;
    try (ReadAhead plain = new ReadAhead(decompressed, f.name())) {
      padded = new Padded(plain, "stream " + f.name() + " into tar in " + pod);
      x = exec.feed(ns, pod, PodCommands.extractStdin(into), padded, AFTER_LAST_BYTE);
      padded.transferTo(OutputStream.nullOutputStream());
    } catch (IOException | RuntimeException e) {
      String read;
      try {
        archive.transferTo(OutputStream.nullOutputStream());
        read = hex(archive);
      } catch (IOException | RuntimeException again) {
        e.addSuppressed(again);
        throw e;
      }
      if (!read.equals(f.hostSha256())) {
        throw mismatch(f, read, -1, expected, e);
      }
      throw e;
    }
    archive.transferTo(OutputStream.nullOutputStream());
    return new Sent(x, padded.plainCount());
  }

  private static String hex(DigestInputStream in) {
    return HexFormat.of().formatHex(in.getMessageDigest().digest());
  }

  private static ApplicationFailure mismatch(
      BackupFile f, String read, long plain, long expected, Throwable cause) {
    return ApplicationFailure.newNonRetryableFailureWithCause(
        f.name()
            + " read as "
            + read
            + (plain < 0 ? " (it did not decompress)" : " (" + plain + " bytes decompressed)")
            + ", not the verified "
            + f.hostSha256()
            + " ("
            + expected
            + " bytes); the backup on the host changed after it was verified",
        FailureTypes.BACKUP_CHECKSUM_MISMATCH,
        cause);
  }

  /** The stream, then zeros to a whole record; heartbeats as it is read. */
  private static final class Padded extends InputStream {
    private final InputStream in;
    private final String what;
    private final long started = System.nanoTime();
    private long count;
    private long plain;
    private boolean ended;

    Padded(InputStream in, String what) {
      this.in = in;
      this.what = what;
    }

    /** The bytes of the stream itself, without the padding (all of them once it has ended). */
    long plainCount() {
      return ended ? plain : count;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      Heartbeats.alive(what, started);
      if (!ended) {
        int n = 0;
        while (n == 0 && len > 0) {
          n = in.read(b, off, len);
        }
        if (n > 0) {
          count += n;
          return n;
        }
        ended = true;
        plain = count;
      }
      int pad = (int) Math.min(len, (RECORD - count % RECORD) % RECORD);
      if (pad == 0) {
        return -1;
      }
      java.util.Arrays.fill(b, off, off + pad, (byte) 0);
      count += pad;
      return pad;
    }
  }
}
