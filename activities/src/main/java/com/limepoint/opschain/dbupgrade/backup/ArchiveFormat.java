package com.limepoint.opschain.dbupgrade.backup;

import com.github.luben.zstd.ZstdInputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * How a backup archive is compressed, told by its name as pg_basebackup writes it: {@code -z}
 * (client gzip) writes {@code base.tar.gz} and {@code --compress=server-zstd} {@code base.tar.zst};
 * the WAL archive of a server-compressed backup stays a plain {@code pg_wal.tar}, because
 * server-side compression applies only to what the server sends (PostgreSQL 15 docs, pg_basebackup
 * {@code --compress}).
 */
enum ArchiveFormat {
  GZIP("gzip", ".gz"),
  ZSTD("zstd", ".zst"),
  NONE("none", "");

  private static final int BUFFER = 1 << 16;

  final String label;
  final String suffix;

  ArchiveFormat(String label, String suffix) {
    this.label = label;
    this.suffix = suffix;
  }

  /** The format of a file named by pg_basebackup; {@link #NONE} for a plain tar or other file. */
  static ArchiveFormat ofFile(String name) {
    for (ArchiveFormat f : List.of(GZIP, ZSTD)) {
      if (name.endsWith(".tar" + f.suffix)) {
        return f;
      }
    }
    return NONE;
  }

  /** A request's format by its label; gzip for null (the runbook's, and older workflows'). */
  static ArchiveFormat ofLabel(String label) {
    for (ArchiveFormat f : values()) {
      if (f.label.equals(label)) {
        return f;
      }
    }
    return GZIP;
  }

  /**
   * {@code auto}: zstd where the server compresses (PostgreSQL 15 added server-side compression,
   * {@code server_version_num} 150000), else the runbook's gzip.
   */
  static ArchiveFormat forServer(String requested, int serverVersionNum) {
    if (requested == null || "auto".equals(requested)) {
      return serverVersionNum >= 150000 ? ZSTD : GZIP;
    }
    return ofLabel(requested);
  }

  /** True for archives of a tar: base.tar, base.tar.gz, pg_wal.tar.zst and so on. */
  static boolean isArchive(String name) {
    return name.contains(".tar") && name.endsWith(".tar" + ofFile(name).suffix);
  }

  /** The name the archive has once decompressed: {@code base.tar.zst} is {@code base.tar}. */
  static String plainName(String name) {
    return name.substring(0, name.length() - ofFile(name).suffix.length());
  }

  /** True when the restore pod receives this archive decompressed (see {@link #plainName}). */
  static boolean decompressedOnUpload(String name) {
    ArchiveFormat f = ofFile(name);
    return f == ZSTD;
  }

  /**
   * pg_basebackup's compression arguments for this format. To stdout, a server-compressed backup
   * needs {@code --no-manifest} (see {@link StreamedBackup}).
   */
  List<String> compressArgs(boolean toStdout) {
    List<String> noManifest = toStdout ? List.of("--no-manifest") : List.of();
    return switch (this) {
      case GZIP -> List.of("-z", "--compress=6");
      // Level 1 with two threads in the server: smaller than gzip level 6 and far faster (see
      // docs/performance.md, "Backup formats").
      case ZSTD -> concat(List.of("--compress=server-zstd:level=1,workers=2"), noManifest);
      case NONE -> List.of();
    };
  }

  private static List<String> concat(List<String> a, List<String> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
  }

  /**
   * The bytes of {@code in}, decompressed; gzip and zstd read every concatenated member. There is
   * no lz4: PostgreSQL's server-lz4 writes linked blocks, which lz4-java's frame reader refuses,
   * and Commons Compress's pure-Java reader decoded 32 MB/s here (docs/performance.md).
   */
  InputStream decompress(InputStream in) throws IOException {
    InputStream buffered = new BufferedInputStream(in, BUFFER);
    return switch (this) {
      case GZIP -> new GZIPInputStream(buffered, BUFFER);
      case ZSTD -> new ZstdInputStream(buffered).setContinuous(false);
      case NONE -> buffered;
    };
  }
}
