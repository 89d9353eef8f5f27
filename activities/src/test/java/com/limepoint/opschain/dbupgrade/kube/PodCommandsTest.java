package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The argv of pod commands: input is always its own argument, never a shell script. */
class PodCommandsTest {
  static final String HOSTILE = "/tmp/b; rm -rf / $(id) `x` 'q' \"d\"";

  @Test
  void theResumableReadIsDdFromAByteOffset() {
    assertThat(PodCommands.readFrom("/backup/base.tar.gz", 1048576))
        .containsExactly(
            "dd",
            "if=/backup/base.tar.gz",
            "bs=1M",
            "iflag=skip_bytes",
            "skip=1048576",
            "status=none");
  }

  @Test
  void theResumableWriteIsDdOfExactlyCountBytesAtAnOffsetWithoutTruncating() {
    assertThat(PodCommands.writeAt("/backup/pg_wal.tar.gz.part", 3145728, 1048576))
        .containsExactly(
            "dd",
            "of=/backup/pg_wal.tar.gz.part",
            "bs=1M",
            "iflag=fullblock,count_bytes",
            "count=1048576",
            "oflag=seek_bytes",
            "seek=3145728",
            "conv=notrunc",
            "status=none");
  }

  @Test
  void pgBasebackupIsTheRunbooksCommandWithUserDirAndRateAsArguments() {
    assertThat(PodCommands.pgBasebackup("/backup/run/backup", "postgres", "300M"))
        .containsExactly(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-D",
            "/backup/run/backup",
            "-Ft",
            "-z",
            "--compress=6",
            "-P",
            "-vvv",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--max-rate=300M");
  }

  @Test
  void theQueriesGoToPsqlAsOneArgumentEach() {
    assertThat(PodCommands.databaseSize("opschain"))
        .containsExactly(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "opschain",
            "-d",
            "postgres",
            "-At",
            "-c",
            "SELECT sum(pg_database_size(datname)) FROM pg_database");
  }

  @Test
  void pathsWithShellCharactersStayOneArgumentAfterTheDoubleDash() {
    assertThat(PodCommands.sha256All(List.of(HOSTILE, "/b/pg_wal.tar.gz")))
        .containsExactly("sha256sum", "--", HOSTILE, "/b/pg_wal.tar.gz");
    assertThat(PodCommands.move(HOSTILE, "/b/x"))
        .containsExactly("mv", "-f", "--", HOSTILE, "/b/x");
    assertThat(PodCommands.emptyDir(HOSTILE))
        .containsExactly("find", HOSTILE, "-mindepth", "1", "-delete");
    // A .gz archive is gunzipped by tar; anything else (a zstd base decompressed on upload) is a
    // plain tar.
    assertThat(PodCommands.extract(HOSTILE + ".gz", "/pgdata"))
        .containsExactly("tar", "-xzf", HOSTILE + ".gz", "-C", "/pgdata");
    assertThat(PodCommands.extract(HOSTILE, "/pgdata"))
        .containsExactly("tar", "-xf", HOSTILE, "-C", "/pgdata");
  }

  @Test
  void noCommandIsAShellAroundItsInput() {
    List<List<String>> all =
        List.of(
            PodCommands.pgBasebackup(HOSTILE, "u", "1M"),
            PodCommands.fenced(HOSTILE, PodCommands.removeTree(HOSTILE)),
            PodCommands.listDir(HOSTILE),
            PodCommands.size(HOSTILE),
            PodCommands.read(HOSTILE),
            PodCommands.readFrom(HOSTILE, 0),
            PodCommands.writeAt(HOSTILE, 0, 1),
            PodCommands.copyNoClobber(HOSTILE, HOSTILE),
            PodCommands.chownRecursive("postgres:postgres", HOSTILE),
            PodCommands.realpath(List.of(HOSTILE)));

    for (List<String> argv : all) {
      assertThat(argv.get(0)).isNotIn("sh", "bash", "dash");
      assertThat(PodCommands.describe(argv)).isNotIn("sh", "bash", "dash");
      assertThat(argv.stream().filter(a -> a.contains(HOSTILE)))
          .as("%s", argv)
          .allMatch(
              a -> a.equals(HOSTILE) || a.equals("if=" + HOSTILE) || a.equals("of=" + HOSTILE));
    }
  }
}
