package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SHA256SUMS format: what is written, what is read back, and what is skipped. */
class SumsFileTest {
  static final String A = "a".repeat(64);
  static final String B = "b".repeat(64);
  static final String C = "0123456789abcdef".repeat(4);

  @Test
  void whatIsWrittenIsReadBackInOrder() {
    Map<String, String> sums = new LinkedHashMap<>();
    sums.put("pg_wal.tar.gz", B);
    sums.put("base.tar.gz", A);
    sums.put("backup_manifest", C);

    String text = SumsFile.format(sums);

    assertThat(text)
        .isEqualTo(B + "  pg_wal.tar.gz\n" + A + "  base.tar.gz\n" + C + "  backup_manifest\n");
    assertThat(SumsFile.parse(text)).containsExactlyEntriesOf(sums);
  }

  @Test
  void theHostFileIsTheFormattedTextAndLeavesNoPartFile(@TempDir Path dir) throws Exception {
    Map<String, String> sums = new LinkedHashMap<>();
    sums.put("base.tar.gz", A);
    sums.put("pg_wal.tar.gz", B);
    Files.writeString(dir.resolve("SHA256SUMS"), "stale\n");

    SumsFile.writeOnHost(dir, sums);

    assertThat(Files.readString(dir.resolve("SHA256SUMS")))
        .isEqualTo(A + "  base.tar.gz\n" + B + "  pg_wal.tar.gz\n");
    assertThat(dir.resolve("SHA256SUMS.part")).doesNotExist();
    assertThat(SumsFile.parse(Files.readString(dir.resolve("SHA256SUMS"))))
        .containsExactlyEntriesOf(sums);
  }

  @Test
  void sha256sumOutputWithPathsAndTheBinaryMarkerIsReadByBaseName() {
    String output = A + "  /x/y/base.tar.gz\n" + B + " */x/y/pg_wal.tar.gz\n";

    assertThat(SumsFile.parse(output))
        .containsExactly(Map.entry("base.tar.gz", A), Map.entry("pg_wal.tar.gz", B));
  }

  @Test
  void malformedLinesAndOtherFilesAreSkipped() {
    String output =
        String.join(
            "\n",
            A + "  /x/other",
            "noise",
            "",
            A.toUpperCase() + "  base.tar.gz",
            A.substring(1) + "  base.tar.gz",
            A + "0  base.tar.gz",
            A + "base.tar.gz",
            A + "\tbase.tar.gz",
            A + " -base.tar.gz",
            A + " ",
            B + "  pg_wal.tar.gz");

    assertThat(SumsFile.parse(output)).containsExactly(Map.entry("pg_wal.tar.gz", B));
  }

  @Test
  void aLaterLineForTheSameFileWins() {
    assertThat(SumsFile.parse(A + "  base.tar.gz\n" + B + "  /elsewhere/base.tar.gz\n"))
        .containsExactly(Map.entry("base.tar.gz", B));
  }

  @Test
  void nothingParsesToNothing() {
    assertThat(SumsFile.parse("")).isEmpty();
    assertThat(SumsFile.format(Map.of())).isEmpty();
  }
}
