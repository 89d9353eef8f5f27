package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.PodCommand;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The worker is a process of its own, as deployed, and is killed with SIGKILL in the middle of
 * pg_basebackup; a new worker process (same host, so the same host queue) takes over. The real
 * server times out the dead attempt by its heartbeat and retries it on the new worker, whose fence
 * stops what the dead one left running in the pod; the upgrade completes with every row moved.
 */
class KilledWorkerIT {

  @Test
  void aWorkerKilledMidBackupIsReplacedAndTheUpgradeCompletes() throws Exception {
    DevMode.require(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    try (DevMode dev =
            DevMode.start(
                "killed-", Map.of("opschain.dev-worker", false, "micronaut.server.port", -1));
        Upgrades upgrade = new Upgrades(dev.target())) {
      DevMode.require(
          dev.context().getBean(DevTemporalServer.class).real(),
          "no temporal CLI here: bin/ensure-temporal installs it");
      DemoCluster demo = dev.context().getBean(DemoCluster.class);
      String rowsBefore = demo.rows();
      // pg_basebackup starts 20 s late: the kill lands while the activity runs.
      demo.box().slowExecOnce("pg_basebackup", Duration.ofSeconds(20));

      Process first = dev.worker(demo, "first");
      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.approve(com.limepoint.opschain.dbupgrade.model.Gate.START);
      upgrade.awaitRunning("takeBackup");
      Thread.sleep(3_000);
      first.destroyForcibly();
      assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(first.exitValue()).isEqualTo(137);
      Process second = dev.worker(demo, "second");
      try {
        UpgradeReport report = upgrade.approveAllAndResult(Duration.ofMinutes(6));

        assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
        assertThat(report.backup().passesVerification()).isTrue();
        assertThat(demo.rows()).isEqualTo(rowsBefore);
        assertThat(report.steps()).allSatisfy(s -> assertThat(s.state()).isEqualTo(StepState.DONE));
        assertThat(demo.releases().history(DemoCluster.NAMESPACE, "opschain")).hasSize(4);
        // The dead attempt's pg_basebackup was stopped or refused; never two at once.
        assertThat(demo.box().maxConcurrent("pg_basebackup")).isEqualTo(1);
        List<PodCommand> backups =
            demo.box().podCommands().stream()
                .filter(c -> String.join(" ", c.argv()).contains("pg_basebackup"))
                .toList();
        assertThat(backups).hasSizeGreaterThanOrEqualTo(2);
      } finally {
        second.destroy();
        second.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }
}
