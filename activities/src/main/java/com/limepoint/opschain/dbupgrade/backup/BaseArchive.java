package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.BackupPgVersion;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities.BackupPgVersionRequest;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Reads one file at the top of the backup's base.tar.gz, streaming: the data directory's {@code
 * PG_VERSION}, not one of the per-database {@code base/<oid>/PG_VERSION} files. pg_basebackup
 * writes ustar headers (PostgreSQL src/port/tar.c, tarCreateHeader: the name in the first 100
 * bytes, the size in octal at 124, or base-256 for large files); GNU tar's long-name ('L') and pax
 * ('x') headers before an entry are honoured too, as GNU tar writes them.
 */
final class BaseArchive {
  private static final int BLOCK = 512;
  private static final int MAX_CONTENT = 64;
  private static final List<String> BASE_NAMES = List.of("base.tar.gz", "base.tar.zst");

  private BaseArchive() {}

  static BackupPgVersion pgVersion(BackupPgVersionRequest r) {
    Path archive =
        BASE_NAMES.stream()
            .map(n -> Path.of(r.hostDir()).resolve(n))
            .filter(Files::isRegularFile)
            .findFirst()
            .orElseThrow(() ->
                ApplicationFailure.newNonRetryableFailure(
                    "no base archive ("
                        + String.join(", ", BASE_NAMES)
                        + ") is in "
                        + r.hostDir()
                        + "; the backup there is not whole",
                    FailureTypes.BACKUP_INVALID));
    String content;
    try {
      content = topLevelFile(archive, "PG_VERSION").orElse(null);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + archive + ": " + e.getMessage(), e);
    }
    if (content == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          archive + " holds no top-level PG_VERSION: it is not a pg_basebackup of a data directory",
          FailureTypes.BACKUP_INVALID);
    }
    return new BackupPgVersion(r.hostDir(), content.strip());
  }

  /** The content of the entry {@code name} (or {@code ./name}) at the archive's top, if any. */
  static Optional<String> topLevelFile(Path tarGz, String name) throws IOException {
    long started = System.nanoTime();
    String format = tarGz.getFileName().toString();
    try (InputStream in = ArchiveFormat.ofFile(format).decompress(Files.newInputStream(tarGz))) {
      byte[] header = new byte[BLOCK];
      String longName = null;
      long blocks = 0;
      while (in.readNBytes(header, 0, BLOCK) == BLOCK && !zero(header)) {
        char type = (char) header[156];
        long size = size(header);
        String entry = longName != null ? longName : headerName(header);
        longName = null;
        if (type == 'L' || type == 'x') {
          byte[] meta = in.readNBytes((int) Math.min(size, 1 << 20));
          in.skipNBytes(padded(size) - meta.length);
          longName = type == 'L' ? cString(meta) : paxPath(meta);
          continue;
        }
        if ((type == '0' || type == 0) && normalise(entry).equals(name)) {
          byte[] content = in.readNBytes((int) Math.min(size, MAX_CONTENT));
          return Optional.of(new String(content, StandardCharsets.US_ASCII));
        }
        in.skipNBytes(padded(size));
        blocks += 1 + padded(size) / BLOCK;
        if (blocks > 2048) {
          blocks = 0;
          Heartbeats.alive("looking for " + name + " in " + tarGz, started);
        }
      }
      return Optional.empty();
    }
  }

  private static String headerName(byte[] h) {
    String name = cString(java.util.Arrays.copyOfRange(h, 0, 100));
    boolean ustar = new String(h, 257, 5, StandardCharsets.US_ASCII).equals("ustar");
    String prefix = ustar ? cString(java.util.Arrays.copyOfRange(h, 345, 500)) : "";
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  /** The size field: octal digits, or big-endian base-256 when its first byte's top bit is set. */
  static long size(byte[] h) {
    if ((h[124] & 0x80) != 0) {
      long v = 0;
      for (int i = 125; i < 136; i++) {
        v = (v << 8) | (h[i] & 0xff);
      }
      return v;
    }
    String octal = cString(java.util.Arrays.copyOfRange(h, 124, 136)).strip();
    return octal.isEmpty() ? 0 : Long.parseLong(octal, 8);
  }

  /** The {@code path=} record of a pax extended header ("<len> path=<value>\n"), if any. */
  private static String paxPath(byte[] meta) {
    for (String rec : new String(meta, StandardCharsets.UTF_8).split("\n")) {
      int sp = rec.indexOf(' ');
      if (sp > 0 && rec.startsWith("path=", sp + 1)) {
        return rec.substring(sp + 1 + "path=".length());
      }
    }
    return null;
  }

  private static String normalise(String entry) {
    String e = entry.startsWith("./") ? entry.substring(2) : entry;
    return e.endsWith("/") ? e.substring(0, e.length() - 1) : e;
  }

  private static long padded(long size) {
    return (size + BLOCK - 1) / BLOCK * BLOCK;
  }

  private static boolean zero(byte[] block) {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  private static String cString(byte[] b) {
    int n = 0;
    while (n < b.length && b[n] != 0) {
      n++;
    }
    return new String(b, 0, n, StandardCharsets.UTF_8);
  }
}
