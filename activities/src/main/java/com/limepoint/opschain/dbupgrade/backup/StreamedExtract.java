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
 * A zstd archive decompressed on the worker straight into {@code tar -xf -} in a pod, in one exec:
 * no copy of the archive (or of its plain tar) on the pod's disk, nothing for the image to
 * decompress. The worker hashes the plain bytes it sends and compares them with the SHA-256 the
 * archive check recorded at verification. The stream is padded with zeros to a whole tar record
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
      DigestInputStream plain =
          new DigestInputStream(
              ArchiveFormat.ofFile(f.name()).decompress(Files.newInputStream(source)),
              HostFiles.sha256());
      PodExec.Result x;
      try (plain) {
        x =
            exec.feed(
                ns,
                pod,
                PodCommands.extractStdin(into),
                new Padded(plain, "stream " + f.name() + " into tar in " + pod),
                AFTER_LAST_BYTE);
        plain.transferTo(OutputStream.nullOutputStream());
      }
      String sent = HexFormat.of().formatHex(plain.getMessageDigest().digest());
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
      if (!sent.equals(checked.plainSha256())) {
        throw ApplicationFailure.newNonRetryableFailure(
            f.name()
                + " decompressed to bytes hashing to "
                + sent
                + ", not the verified "
                + checked.plainSha256(),
            FailureTypes.BACKUP_CHECKSUM_MISMATCH);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The stream, then zeros to a whole record; heartbeats as it is read. */
  private static final class Padded extends InputStream {
    private final InputStream in;
    private final String what;
    private final long started = System.nanoTime();
    private long count;
    private boolean ended;

    Padded(InputStream in, String what) {
      this.in = in;
      this.what = what;
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
