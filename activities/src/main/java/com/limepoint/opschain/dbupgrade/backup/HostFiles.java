package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

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

  /**
   * How host files are opened for reading, and how host commands are turned into a process's argv:
   * the identity in production. Tests put a slow disk or a slow command here to prove that every
   * wait heartbeats.
   */
  static volatile UnaryOperator<InputStream> reads = UnaryOperator.identity();

  static volatile UnaryOperator<List<String>> commands = UnaryOperator.identity();

  /** The longest a host command may run (gzip -t or a tar listing of a large archive). */
  private static final Duration COMMAND_LIMIT = Duration.ofHours(6);

  /**
   * Feeds the first {@code length} bytes of a file into the digest (1 MiB at a time), heartbeating
   * at least every {@link Heartbeats#CADENCE} while it reads.
   */
  static void digestPrefix(Path file, long length, MessageDigest digest) throws IOException {
    digestPrefix(file, length, digest, OutputStream.nullOutputStream());
  }

  /** {@link #digestPrefix(Path, long, MessageDigest)} that also writes the bytes to {@code tap}. */
  @SuppressWarnings("try") // the keep-alive works by being open
  static void digestPrefix(Path file, long length, MessageDigest digest, OutputStream tap)
      throws IOException {
    byte[] buf = new byte[1 << 20];
    long left = length;
    // One read may block for long on a slow disk: a keep-alive heartbeats beside it, and stops the
    // read (an interrupt closes the file's channel) when the attempt is over.
    Thread reader = Thread.currentThread();
    try (AutoCloseable quiet =
            Heartbeats.keepAlive("SHA-256 of " + file.getFileName(), reader::interrupt);
        InputStream in = reads.apply(Files.newInputStream(file))) {
      while (left > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (n < 0) {
          throw new IOException(file + " is shorter than " + length + " bytes");
        }
        digest.update(buf, 0, n);
        tap.write(buf, 0, n);
        left -= n;
      }
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  /**
   * The file for reading, through {@link #reads} (the tests' slow disk), heartbeating on every read
   * (Heartbeats.alive sends at most one per cadence), so a long read keeps its attempt alive.
   */
  static InputStream readBeating(Path file, String what) throws IOException {
    long started = System.nanoTime();
    return new java.io.FilterInputStream(reads.apply(Files.newInputStream(file))) {
      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        com.limepoint.opschain.dbupgrade.kube.Heartbeats.alive(what, started);
        return super.read(b, off, len);
      }
    };
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

  /**
   * Runs a host command (argv, no shell); exit code and combined output. The output goes to a
   * temporary file, and the wait heartbeats every {@link Heartbeats#CADENCE}; when the attempt is
   * canceled or timed out (the heartbeat throws), or the wait is interrupted, the process is
   * killed, so no retry runs beside it.
   */
  static Result run(List<String> argv) throws IOException {
    Path out = Files.createTempFile("opschain-host-", ".out");
    Process p = null;
    try {
      p =
          new ProcessBuilder(commands.apply(argv))
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .start();
      long started = System.nanoTime();
      while (!p.waitFor(Heartbeats.SLICE.toMillis(), TimeUnit.MILLISECONDS)) {
        if (System.nanoTime() - started > COMMAND_LIMIT.toNanos()) {
          return new Result(-1, "timed out after " + COMMAND_LIMIT);
        }
        Heartbeats.alive("`" + argv.get(0) + "` on the host", started);
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    } finally {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
      }
      Files.deleteIfExists(out);
    }
  }

  record Result(int exitCode, String output) {}
}
