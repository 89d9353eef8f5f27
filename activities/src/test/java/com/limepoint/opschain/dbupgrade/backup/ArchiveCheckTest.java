package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The single-pass archive check: what gzip -t and tar -t would refuse, it refuses (a truncated
 * archive, a flipped byte); what it accepts, it describes (PG_VERSION, backup_label, WAL segments,
 * the SHA-256 of the plain tar the restore receives); fed through the tap in pieces it gives the
 * same answer; and its record stands only while the file is as the copy left it.
 */
class ArchiveCheckTest {
  @TempDir Path dir;

  /** A streamed base backup's shape: PG_VERSION, backup_label, a table file, pg_wal/ inside. */
  static byte[] baseTar() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      add(tar, "backup_label", "START WAL LOCATION: 0/2000028\n".getBytes(StandardCharsets.UTF_8));
      add(tar, "PG_VERSION", "15\n".getBytes(StandardCharsets.UTF_8));
      byte[] table = new byte[3 << 20];
      new Random(1).nextBytes(table);
      add(tar, "base/5/16384", table);
      add(tar, "pg_wal/000000010000000000000002", new byte[1 << 20]);
    }
    return out.toByteArray();
  }

  private static void add(TarArchiveOutputStream tar, String name, byte[] data) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(data.length);
    tar.putArchiveEntry(e);
    tar.write(data);
    tar.closeArchiveEntry();
  }

  static byte[] compress(byte[] plain, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (OutputStream c =
        format.equals("zst") ? new ZstdOutputStream(out, 1) : new GZIPOutputStream(out)) {
      c.write(plain);
    }
    return out.toByteArray();
  }

  @Test
  void aWholeArchiveIsDescribedAndItsPlainTarHashed() throws Exception {
    byte[] plain = baseTar();
    for (String format : new String[] {"gz", "zst"}) {
      ArchiveCheck.Result r =
          ArchiveCheck.of("base.tar." + format, new ByteArrayInputStream(compress(plain, format)));
      assertThat(r.error()).as(format).isNull();
      assertThat(r.entries()).isEqualTo(4);
      assertThat(r.pgVersion()).isEqualTo("15");
      assertThat(r.backupLabel()).isTrue();
      assertThat(r.walSegments()).isEqualTo(1);
      assertThat(r.plainBytes()).isEqualTo(plain.length);
      assertThat(r.plainSha256())
          .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(plain)));
    }
  }

  @Test
  void truncatedOrFlippedArchivesAreRefusedAsGzipTAndTarTWould() throws Exception {
    byte[] plain = baseTar();
    for (String format : new String[] {"gz", "zst"}) {
      byte[] whole = compress(plain, format);
      byte[] cut = Arrays.copyOf(whole, whole.length * 2 / 3);
      assertThat(ArchiveCheck.of("base.tar." + format, new ByteArrayInputStream(cut)).error())
          .as("truncated " + format)
          .isNotNull();
      // gzip's CRC-32 catches a flipped byte anywhere. PostgreSQL's server-zstd frames carry no
      // checksum ("Check: None" in zstd -lv of a real one), so a flip inside a stored block can
      // only be caught by the SHA-256 the pod and the host compare, and by the rehearsal; a flip in
      // the frame's structure is caught here.
      byte[] flipped = whole.clone();
      flipped[format.equals("gz") ? whole.length / 2 : 1] ^= 0x10;
      assertThat(ArchiveCheck.of("base.tar." + format, new ByteArrayInputStream(flipped)).error())
          .as("flipped " + format)
          .isNotNull();
    }
    // Not an archive at all: random bytes named base.tar.gz.
    byte[] noise = new byte[1 << 16];
    new Random(2).nextBytes(noise);
    assertThat(ArchiveCheck.of("base.tar.gz", new ByteArrayInputStream(noise)).error()).isNotNull();
  }

  @Test
  void theTapFedInOddPiecesGivesTheSameAnswer() throws Exception {
    byte[] whole = compress(baseTar(), "zst");
    ArchiveCheck.Result direct = ArchiveCheck.of("base.tar.zst", new ByteArrayInputStream(whole));
    ArchiveCheck.Result tapped;
    try (ArchiveCheck.Tap tap = new ArchiveCheck.Tap("base.tar.zst")) {
      Random random = new Random(3);
      for (int at = 0; at < whole.length; ) {
        int n = Math.min(whole.length - at, 1 + random.nextInt(100_000));
        tap.write(whole, at, n);
        at += n;
      }
      tapped = tap.finish();
    }
    assertThat(tapped).isEqualTo(direct);
  }

  @Test
  void aRecordStandsOnlyWhileTheFileIsAsTheCopyLeftIt() throws Exception {
    byte[] whole = compress(baseTar(), "gz");
    Path archive = dir.resolve("base.tar.gz");
    Files.write(archive, whole);
    String sha = HostFiles.sha256Hex(archive);
    ArchiveCheck.Result r = ArchiveCheck.of("base.tar.gz", new ByteArrayInputStream(whole));
    ArchiveCheck.record(archive, sha, r);

    assertThat(ArchiveCheck.recorded(archive, sha)).contains(r);
    assertThat(ArchiveCheck.recorded(archive, "0".repeat(64))).isEmpty();
    Files.setLastModifiedTime(archive, FileTime.fromMillis(0));
    assertThat(ArchiveCheck.recorded(archive, sha)).isEmpty();
  }
}
