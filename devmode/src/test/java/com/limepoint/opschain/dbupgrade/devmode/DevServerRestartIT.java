package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The dev server itself stopped and started again mid-upgrade, twice: once while a gate waits, once
 * while the backup is being copied. Its history is in its database file, so the upgrade goes on
 * from where it was and completes with every row moved, each step done once.
 */
class DevServerRestartIT {

  @Test
  void theUpgradeCompletesAcrossTwoRestartsOfTheDevServer() throws Exception {
    DevMode.require(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    try (DevMode dev = DevMode.start("restart-", Map.of("micronaut.server.port", -1));
        Upgrades upgrade = new Upgrades(dev.target())) {
      DevTemporalServer server = dev.context().getBean(DevTemporalServer.class);
      DevMode.require(server.real(), "no temporal CLI here: bin/ensure-temporal installs it");
      DemoCluster demo = dev.context().getBean(DemoCluster.class);
      String rowsBefore = demo.rows();
      // The streamed backup (the default mode) starts 8 s late, so that the second restart lands
      // inside it.
      demo.box().slowExecOnce("stream\\.fifo", Duration.ofSeconds(8));

      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.awaitGate(Gate.START);
      server.restart();
      upgrade.approve(Gate.START);
      upgrade.awaitRunning("takeBackup");
      server.restart();
      UpgradeReport report = upgrade.approveAllAndResult(Duration.ofMinutes(5));

      assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
      assertThat(report.backup().passesVerification()).isTrue();
      assertThat(demo.rows()).isEqualTo(rowsBefore);
      assertThat(report.steps()).allSatisfy(s -> assertThat(s.state()).isEqualTo(StepState.DONE));
      // One Helm revision per deploy step: installed, stopped, upgraded, finalized.
      assertThat(demo.releases().history(DemoCluster.NAMESPACE, "opschain")).hasSize(4);
    }
  }
}
