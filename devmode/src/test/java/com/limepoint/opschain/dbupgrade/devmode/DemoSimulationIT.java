package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import io.micronaut.context.ApplicationContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The dev mode on a machine without PostgreSQL and without the temporal CLI (both forced here): the
 * demo says it simulates the database, the dev mode falls back to the Java SDK's test server, and
 * the whole upgrade still runs to COMPLETED, with a synthetic backup that is copied, hashed and
 * verified for real. Needs neither.
 */
class DemoSimulationIT {

  @Test
  void withoutPostgresTheDemoSimulatesTheDatabaseAndCompletes() throws Exception {
    DevMode dev =
        DevMode.start(
            "sim-",
            Map.of(
                "opschain.demo-simulated", true, "opschain.temporal-cli", "/nonexistent/temporal"));
    ApplicationContext context = dev.context();
    Path demoDir = dev.demoDir();
    String printed;
    int code;
    try {
      assertThat(context.getBean(DemoCluster.class).simulated()).isTrue();
      assertThat(context.getBean(DevTemporalServer.class).real()).isFalse();
      assertThat(context.getBean(DevTemporalServer.class).webUi("x")).isNull();
      DevMode.DemoRun run = dev.runDemo();
      code = run.code();
      printed = run.printed();
    } finally {
      context.close();
    }
    assertThat(code).isZero();
    assertThat(printed)
        .contains("database " + 31_457_280 + " bytes")
        .containsPattern(
            "done +verifyBackup +verified: every file non-empty, sizes and SHA-256 equal")
        // Streamed (the default), zstd (the simulated server says PostgreSQL 15): one archive, its
        // tar walked as it arrived, WAL inside.
        .contains("base.tar.zst: zstd decompressed and", "while it was copied", "COMPLETED");
    // The synthetic backup really went to the host, whole.
    // It went to the run's own directory, <hostBackupDir>/<workflowId>/<runId>.
    java.util.List<Path> runDirs;
    try (var runs = Files.list(demoDir.resolve("host/backup/opschain-db-upgrade-opschain"))) {
      runDirs = runs.toList();
    }
    assertThat(runDirs).hasSize(1);
    Path copied = runDirs.get(0);
    assertThat(copied.resolve("base.tar.zst")).isNotEmptyFile();
    assertThat(Files.readString(copied.resolve("SHA256SUMS"))).contains("base.tar.zst");
  }
}
