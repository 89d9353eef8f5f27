package com.limepoint.opschain.dbupgrade.backup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Host-side file work for the backup: hashing, fsync, and archive checks through argv commands. */
final class HostFiles {
  private HostFiles() {}

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Feeds the first {@code length} bytes of a file into the digest (1 MiB at a time). */
  static void digestPrefix(Path file, long length, MessageDigest digest) throws IOException {
    byte[] buf = new byte[1 << 20];
    long left = length;
    try (InputStream in = Files.newInputStream(file)) {
      while (left > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (n < 0) {
          throw new IOException(file + " is shorter than " + length + " bytes");
        }
        digest.update(buf, 0, n);
        left -= n;
      }
    }
  }

  static String sha256Hex(Path file) throws IOException {
    MessageDigest d = sha256();
    digestPrefix(file, Files.size(file), d);
    return HexFormat.of().formatHex(d.digest());
  }

  static void fsyncDir(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some file systems cannot fsync a directory; the file itself was fsynced.
    }
  }

  /** Runs a host command (argv, no shell); exit code and combined output. */
  static Result run(List<String> argv) throws IOException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    try {
      if (!p.waitFor(30, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        return new Result(-1, "timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  record Result(int exitCode, String output) {}
}
