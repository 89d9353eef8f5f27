package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The dev mode's whole upgrade in one command: start it, print each step as it ends, show each
 * gate's evidence and approve it, print the outcome.
 */
@Command(
    name = "demo",
    description =
        "Run a whole upgrade on the dev-mode worker, approving each gate and printing each step.")
class Demo extends ConnectedCommand {
  /** How often the demo asks for the status: it runs on the local dev server. */
  private static final long POLL_MILLIS = 200;

  @Option(
      names = "--request",
      description = "the dev mode's request (default: <tmp>/opschain-demo/request.json)")
  Path request = Path.of(System.getProperty("java.io.tmpdir"), "opschain-demo", "request.json");

  @Option(names = "--by", defaultValue = "demo-user")
  String by;

  @Override
  ExitCode execute() throws InterruptedException {
    UpgradeRequest r = load(request);
    try (Connection temporal = connect()) {
      DbUpgradeWorkflow wf = temporal.start(r);
      out()
          .println(
              "started "
                  + UpgradeRequests.workflowId(r.namespace())
                  + " ("
                  + r.currentVersion()
                  + " -> "
                  + r.targetVersion()
                  + ")");
      followApprovingGates(wf);
      UpgradeReport report = awaitReport(temporal, r.namespace());
      return report != null && report.outcome() == Outcome.COMPLETED
          ? ExitCode.OK
          : ExitCode.NOT_COMPLETED;
    }
  }

  /** Prints each step as it ends and approves each gate once, until the upgrade ends. */
  void followApprovingGates(DbUpgradeWorkflow wf) throws InterruptedException {
    StatusPrinter printer = new StatusPrinter(out());
    Set<String> approved = new HashSet<>();
    while (true) {
      UpgradeStatus s;
      try {
        s = wf.status();
      } catch (RuntimeException e) {
        // The first query can come before the worker has taken the workflow task.
        Thread.sleep(POLL_MILLIS);
        continue;
      }
      printer.newlyEnded(s).forEach(printer::stepEnded);
      OpenGate gate = s.openGate();
      if (gate != null && approved.add(gate.gate().name())) {
        printGate(gate);
        wf.approveGate(
            new GateDecision(gate.gate().name(), by, "approved by starter demo", gate.opening()));
        out().printf("  approved %s as %s%n", gate.gate(), by);
      }
      if (StatusPrinter.isFinal(s.phase())) {
        return;
      }
      Thread.sleep(POLL_MILLIS);
    }
  }

  private void printGate(OpenGate gate) {
    out()
        .printf(
            "gate %s: %s%n  evidence: %s%n",
            gate.gate(), gate.question(), gate.evidence().summary());
    StatusPrinter.backupFiles(out(), gate);
    StatusPrinter.valuesChanges(out(), gate);
  }
}
