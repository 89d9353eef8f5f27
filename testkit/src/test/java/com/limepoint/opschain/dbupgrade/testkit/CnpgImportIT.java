package com.limepoint.opschain.dbupgrade.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness's CNPG import ({@link LocalPostgres#importFrom}) does what CNPG's microservice import
 * does, observed on the real servers: rows, constraints and indexes (the post-data section) arrive,
 * the objects belong to the owner role, the tables are analyzed, the dump directory is gone, and
 * the server runs with its normal settings again (fsync back on).
 */
class CnpgImportIT {
  @TempDir Path dir;

  @Test
  void theImportedDatabaseHasEveryRowItsIndexesAndStatisticsAndTheServerItsNormalSettings()
      throws Exception {
    com.limepoint.opschain.dbupgrade.testkit.Required.postgres();
    try (LocalPostgres legacy = LocalPostgres.init(dir.resolve("legacy/pgdata"), "opschain");
        LocalPostgres cnpg = LocalPostgres.init(dir.resolve("cnpg/pgdata"), "opschain")) {
      legacy.sql(
          "opschain",
          "CREATE TABLE changes(id int PRIMARY KEY, summary text NOT NULL);"
              + " CREATE INDEX changes_summary ON changes(summary);"
              + " INSERT INTO changes SELECT g, 'change ' || g FROM generate_series(1, 20000) g");

      cnpg.importFrom(legacy, "opschain");

      assertThat(cnpg.sql("opschain", "SELECT count(*), sum(id) FROM changes"))
          .isEqualTo("20000|200010000");
      assertThat(
              cnpg.sql(
                  "opschain",
                  "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes"
                      + " WHERE tablename = 'changes'"))
          .isEqualTo("changes_pkey,changes_summary");
      assertThat(
              cnpg.sql("opschain", "SELECT tableowner FROM pg_tables WHERE tablename = 'changes'"))
          .isEqualTo("opschain");
      assertThat(
              cnpg.sql(
                  "opschain",
                  "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
                      + " WHERE relname = 'changes'"))
          .isEqualTo("t");
      assertThat(cnpg.sql("postgres", "SHOW fsync")).isEqualTo("on");
      assertThat(cnpg.sql("postgres", "SHOW wal_level")).isEqualTo("replica");
      assertThat(Files.exists(cnpg.pgdata().resolve("dumps/opschain.dump"))).isFalse();
    }
  }
}
