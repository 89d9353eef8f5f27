package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What a person sees of an upgrade in the Temporal Web UI, read in a real browser (Debian's
 * Chromium, driven by playwright-core: tools/webui/page-text.mjs, which bin/ensure-browser sets up)
 * from the dev server's own UI: the current details with the phase and the open gate, the upgrade
 * found by its UpgradePhase search attribute, the copy as a pending activity with its heartbeat,
 * and each activity's summary in the history. Screenshots go to target/webui/.
 */
class WebUiIT {
  static final Path SCRIPT = Path.of("../tools/webui/page-text.mjs");
  static final Path SHOTS = Path.of("target", "webui");

  @Test
  void theWebUiShowsThePhaseTheOpenGateTheBackupInProgressAndEachStepsSummary() throws Exception {
    DevMode.require(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    DevMode.require(
        Files.isDirectory(Path.of("../tools/webui/node_modules/playwright-core")),
        "playwright-core is not installed: bin/ensure-browser");
    Files.createDirectories(SHOTS);
    try (DevMode dev = DevMode.start("webui-", Map.of("micronaut.server.port", -1));
        Upgrades upgrade = new Upgrades(dev.target())) {
      DevTemporalServer server = dev.context().getBean(DevTemporalServer.class);
      DevMode.require(server.real(), "no temporal CLI here: bin/ensure-temporal installs it");
      DemoCluster demo = dev.context().getBean(DemoCluster.class);
      // The streamed backup (the default mode) starts 25 s late: long enough to look at it while
      // it runs. Its command is the stream script, which names its FIFO.
      demo.box().slowExecOnce("stream\\.fifo", Duration.ofSeconds(25));
      String workflow = server.webUi(Upgrades.WORKFLOW_ID);

      upgrade.start(dev.demoDir().resolve("request.json"));
      upgrade.awaitGate(Gate.START);
      String runId = runId(dev);
      String run = workflow + "/" + runId;
      // Current Details: the open gate, what approving does, the evidence, the exact command.
      page(
          run + "/user-metadata",
          "01-current-details",
          "AWAITING_APPROVAL",
          "Open gate: START",
          "Approving: Preflight passed. Approving stops OpsChain",
          "database size",
          "bin/opschain-upgrade approve opschain --gate START --opening",
          "anyone who can reach Temporal may decide this gate");
      // The timeline: the open gate is a timer named after it, not a UUID.
      page(
          run + "/history",
          "01b-gate-start-open",
          "gate START: Stop OpsChain and begin the downtime? (times out in 1h)");
      String ui = workflow.substring(0, workflow.indexOf("/namespaces/"));
      page(
          ui + "/namespaces/default/workflows?query=UpgradePhase%3D%22AWAITING_APPROVAL%22",
          "02-list-by-phase",
          Upgrades.WORKFLOW_ID,
          "Running");

      upgrade.approve(Gate.START);
      // Closed, with who decided.
      page(run + "/history", "02b-gate-start-closed", "gate START closed: approved by alice");
      UpgradeStatus copying = upgrade.awaitRunning("takeBackup");
      assertThat(copying.phase().name()).isEqualTo("BACKING_UP");
      page(run + "/pending-activities", "03-copy-pending", "TakeBackup", "Heartbeat");

      upgrade.awaitGate(Gate.BACKUP_VERIFIED);
      page(
          run + "/history",
          "04-history-summaries",
          // The page shows the latest events first, as many as fit: the steps before the backup
          // gate (the copy, its verification, the restore rehearsal).
          "copy backup from",
          "verify backup in",
          "rehearse the restore in pod opschain-db-rehearsal");
      page(run + "/user-metadata", "05-backup-gate", "gate BACKUP_VERIFIED");
      // The timeline draws each gate as a bar named after it: START closed, BACKUP_VERIFIED open.
      page(
          run + "/timeline",
          "06-timeline-gates",
          "gate START closed: approved by alice",
          "gate BACKUP_VERIFIED:");
    }
  }

  private static String runId(DevMode dev) {
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(dev.target()).build());
    try {
      return WorkflowClient.newInstance(stubs)
          .newUntypedWorkflowStub(Upgrades.WORKFLOW_ID)
          .describe()
          .getExecution()
          .getRunId();
    } finally {
      stubs.shutdownNow();
    }
  }

  /** Opens the page in Chromium until every text shows (60 s at most); its text. */
  private static String page(String url, String shot, String... expected) throws Exception {
    List<String> argv = new ArrayList<>(List.of("node", SCRIPT.toString(), url));
    argv.add(SHOTS.resolve(shot + ".png").toString());
    argv.add("60000");
    argv.addAll(List.of(expected));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s\n%s", url, out).isZero();
    System.out.println("web UI " + url + ": " + String.join(", ", expected) + " shown");
    return out;
  }
}
