package com.limepoint.opschain.dbupgrade.backup;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * What {@code gzip -t} and {@code tar -tf} check, done on the bytes as they arrive: the archive is
 * decompressed (gzip's CRC and length, zstd's frame checks) and every tar header walked to the end.
 * On the way it records the SHA-256 and size of the decompressed tar (what the restore uploads),
 * the {@code PG_VERSION} it holds, whether {@code backup_label} is there, and how many WAL segments
 * it carries ({@code pg_wal/<segment>} in a streamed base, {@code <segment>} at the top of
 * pg_wal.tar). Fed through {@link Tap} by the copy, so the archive is read once.
 */
final class ArchiveCheck {
  private static final Pattern SEGMENT = Pattern.compile("(pg_wal/)?[0-9A-F]{24}");
  private static final int MAX_VERSION = 64;

  /**
   * @param error null when the archive decompressed and its tar walked to the end; else why not
   */
  record Result(
      String name,
      long plainBytes,
      String plainSha256,
      int entries,
      String pgVersion,
      boolean backupLabel,
      int walSegments,
      String error) {
    boolean ok() {
      return error == null;
    }
  }

  private ArchiveCheck() {}

  /** The file beside an archive that keeps its check: {@code base.tar.zst.check}. */
  static Path recordOf(Path archive) {
    return archive.resolveSibling(archive.getFileName() + ".check");
  }

  /**
   * Keeps the check of {@code archive} beside it, with the size, modification time and SHA-256 the
   * copy gave the file, written atomically; {@link #recorded} trusts it only while all three hold.
   */
  static void record(Path archive, String sha256, Result r) throws IOException {
    Properties p = new Properties();
    p.setProperty("size", Long.toString(Files.size(archive)));
    p.setProperty("mtime", Long.toString(Files.getLastModifiedTime(archive).toMillis()));
    p.setProperty("sha256", sha256);
    p.setProperty("plainBytes", Long.toString(r.plainBytes()));
    p.setProperty("plainSha256", String.valueOf(r.plainSha256()));
    p.setProperty("entries", Integer.toString(r.entries()));
    p.setProperty("pgVersion", String.valueOf(r.pgVersion()));
    p.setProperty("backupLabel", Boolean.toString(r.backupLabel()));
    p.setProperty("walSegments", Integer.toString(r.walSegments()));
    p.setProperty("error", String.valueOf(r.error()));
    Path tmp = recordOf(archive).resolveSibling(recordOf(archive).getFileName() + ".part");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, "the archive check of " + archive.getFileName() + ", made while it was copied");
    }
    Files.move(tmp, recordOf(archive), StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The check kept beside {@code archive}, when it is for these bytes: the same SHA-256 as {@code
   * sha256} and the file's size and modification time unchanged since. Empty when not.
   */
  static Optional<Result> recorded(Path archive, String sha256) throws IOException {
    Path kept = recordOf(archive);
    if (sha256 == null || !Files.isRegularFile(kept) || !Files.isRegularFile(archive)) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(kept)) {
      p.load(in);
    }
    boolean same =
        sha256.equals(p.getProperty("sha256"))
            && Long.toString(Files.size(archive)).equals(p.getProperty("size"))
            && Long.toString(Files.getLastModifiedTime(archive).toMillis())
                .equals(p.getProperty("mtime"));
    if (!same) {
      return Optional.empty();
    }
    return Optional.of(
        new Result(
            archive.getFileName().toString(),
            Long.parseLong(p.getProperty("plainBytes")),
            nullable(p.getProperty("plainSha256")),
            Integer.parseInt(p.getProperty("entries")),
            nullable(p.getProperty("pgVersion")),
            Boolean.parseBoolean(p.getProperty("backupLabel")),
            Integer.parseInt(p.getProperty("walSegments")),
            nullable(p.getProperty("error"))));
  }

  private static String nullable(String s) {
    return s == null || s.equals("null") ? null : s;
  }

  /** Checks {@code in}, an archive named {@code name}, to its end. Never throws on bad data. */
  static Result of(String name, InputStream in) {
    Counter plain = null;
    int entries = 0;
    String version = null;
    boolean label = false;
    int segments = 0;
    try {
      plain = new Counter(ArchiveFormat.ofFile(name).decompress(in));
      TarArchiveInputStream tar = new TarArchiveInputStream(plain);
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        entries++;
        String path = e.getName().startsWith("./") ? e.getName().substring(2) : e.getName();
        if (path.equals("PG_VERSION")) {
          version = new String(tar.readNBytes(MAX_VERSION), StandardCharsets.US_ASCII).strip();
        } else if (path.equals("backup_label")) {
          label = true;
        } else if (e.isFile() && SEGMENT.matcher(path).matches()) {
          segments++;
        }
      }
      // The tar's end-of-archive blocks and padding are part of what the restore receives.
      plain.transferTo(OutputStream.nullOutputStream());
      if (entries == 0) {
        return result(name, plain, 0, null, false, 0, "the archive holds no entries");
      }
      return result(name, plain, entries, version, label, segments, null);
    } catch (IOException | RuntimeException e) {
      String why = e.getClass().getSimpleName() + ": " + e.getMessage();
      return result(name, plain, entries, version, label, segments, why);
    } finally {
      drain(in);
    }
  }

  private static Result result(
      String name, Counter c, int entries, String v, boolean label, int wal, String error) {
    return new Result(
        name,
        c == null ? 0 : c.count,
        c == null ? null : HexFormat.of().formatHex(c.digest.digest()),
        entries,
        v,
        label,
        wal,
        error);
  }

  /** Reads what a failed check left, so a producer feeding a {@link Tap} never blocks. */
  private static void drain(InputStream in) {
    try {
      in.transferTo(OutputStream.nullOutputStream());
    } catch (IOException e) {
      // The source itself failed; nothing is waiting on it.
    }
  }

  /** Counts and hashes what is read through it; skipping reads too, so nothing escapes either. */
  private static final class Counter extends FilterInputStream {
    final MessageDigest digest = HostFiles.sha256();
    long count;
    private final byte[] skipped = new byte[1 << 16];

    Counter(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        digest.update((byte) b);
        count++;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        digest.update(b, off, n);
        count += n;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      int r = read(skipped, 0, (int) Math.min(n, skipped.length));
      return Math.max(r, 0);
    }
  }

  /**
   * The check beside a copy: what is written here is checked on a thread of its own (through a
   * bounded queue of a few MiB, so a slow check slows the copy rather than filling memory), and
   * {@link #finish} gives the result once the last byte has been checked.
   */
  static final class Tap extends OutputStream {
    private static final byte[] END = new byte[0];
    private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(32);
    private final Thread thread;
    private volatile Result result;

    Tap(String name) {
      this.thread =
          Thread.ofPlatform()
              .daemon()
              .name("archive-check-" + name)
              .start(() -> result = of(name, new QueueStream(chunks)));
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (len > 0) {
        put(java.util.Arrays.copyOfRange(b, off, off + len));
      }
    }

    /** Ends the input and waits for the check of everything written. */
    Result finish() throws IOException {
      put(END);
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while the archive check finished");
      }
      return result;
    }

    /** Stops the check without a result (the copy failed). */
    @Override
    public void close() {
      thread.interrupt();
    }

    private void put(byte[] chunk) throws IOException {
      try {
        chunks.put(chunk);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while feeding the archive check");
      }
    }
  }

  /** The tap's chunks as a stream; ends at the empty chunk or when its thread is interrupted. */
  private static final class QueueStream extends InputStream {
    private final BlockingQueue<byte[]> chunks;
    private byte[] current = new byte[0];
    private int pos;
    private boolean ended;

    QueueStream(BlockingQueue<byte[]> chunks) {
      this.chunks = chunks;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (!ended && pos == current.length) {
        try {
          current = chunks.take();
        } catch (InterruptedException e) {
          throw new InterruptedIOException("the copy stopped");
        }
        pos = 0;
        ended = current.length == 0;
      }
      if (ended) {
        return -1;
      }
      int n = Math.min(len, current.length - pos);
      System.arraycopy(current, pos, b, off, n);
      pos += n;
      return n;
    }
  }
}
