package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.BackupPgVersionRequest;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PG_VERSION from base.tar.gz archives as GNU tar writes them (pg_basebackup's: BackupRoundTripIT).
 */
class BaseArchiveTest {

  /** A data directory with a database's own PG_VERSION listed before the top-level one. */
  static Path archive(Path dir, String top, String... tarOptions) throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Path db = Files.createDirectories(data.resolve("base/1"));
    Files.writeString(db.resolve("PG_VERSION"), "9.6\n");
    Files.write(db.resolve("1259"), new byte[100_000]);
    String deep = "a".repeat(120);
    Files.writeString(Files.createDirectories(data.resolve(deep)).resolve("x"), "long name");
    if (top != null) {
      Files.writeString(data.resolve("PG_VERSION"), top);
    }
    Path out = Files.createDirectories(dir.resolve("host"));
    List<String> argv = new java.util.ArrayList<>(List.of("tar"));
    argv.addAll(List.of(tarOptions));
    argv.addAll(List.of("-czf", out.resolve("base.tar.gz").toString(), "-C", data.toString()));
    argv.addAll(List.of("base", deep));
    if (top != null) {
      argv.add("PG_VERSION");
    }
    assertThat(new ProcessBuilder(argv).inheritIO().start().waitFor()).isZero();
    return out;
  }

  @Test
  void theTopLevelPgVersionIsReadNotADatabasesOne(@TempDir Path dir) throws Exception {
    Path host = archive(dir, "15\n");
    assertThat(BaseArchive.pgVersion(new BackupPgVersionRequest(host.toString())).pgVersion())
        .isEqualTo("15");
  }

  @Test
  void paxArchivesAreReadToo(@TempDir Path dir) throws Exception {
    Path host = archive(dir, "16\n", "--format=pax");
    assertThat(BaseArchive.pgVersion(new BackupPgVersionRequest(host.toString())).pgVersion())
        .isEqualTo("16");
  }

  @Test
  void anArchiveWithoutATopLevelPgVersionIsNotABackup(@TempDir Path dir) throws Exception {
    Path host = archive(dir, null);
    assertThatThrownBy(() -> BaseArchive.pgVersion(new BackupPgVersionRequest(host.toString())))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.BACKUP_INVALID);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage()).contains("holds no top-level PG_VERSION");
            });
    assertThatThrownBy(() -> BaseArchive.pgVersion(new BackupPgVersionRequest(dir.toString())))
        .hasMessageContaining("no base archive (base.tar.gz, base.tar.zst) is in");
  }
}
