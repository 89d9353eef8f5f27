package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Follows an upgrade until it ends. On a terminal the progress bar is redrawn in place; otherwise
 * (a pipe, a CI log) each change of it is one line.
 */
@Command(
    name = "watch",
    description =
        "Follow an upgrade: each step as it ends, open gates, and a live progress bar for backup, copy and import.")
class Watch extends ConnectedCommand {
  @Parameters(index = "0")
  String namespace;

  @Option(
      names = "--every",
      defaultValue = "2",
      description = "seconds between status queries (default ${DEFAULT-VALUE})")
  double every;

  @Option(
      names = "--output",
      defaultValue = "text",
      description = "text, or json: one status object per change (for scripts)")
  String output;

  private final Set<String> seen = new HashSet<>();
  private String lastBar = "";
  private String lastJson = "";

  @Override
  ExitCode execute() throws IOException, InterruptedException {
    try (Connection temporal = connect()) {
      return follow(temporal.upgrade(namespace));
    }
  }

  /** Queries the status until the upgrade ends; 0 when it completed (or planned), else 1. */
  ExitCode follow(DbUpgradeWorkflow wf) throws IOException, InterruptedException {
    boolean terminal = System.console() != null && output.equals("text");
    seen.clear();
    lastBar = "";
    lastJson = "";
    StatusPrinter printer = new StatusPrinter(out());
    while (true) {
      UpgradeStatus s = wf.status();
      if (output.equals("json")) {
        printIfChanged(StatusPrinter.json(s));
      } else {
        printChanges(s, printer, terminal);
      }
      if (StatusPrinter.isFinal(s.phase())) {
        if (output.equals("text")) {
          out()
              .println(
                  (terminal && !lastBar.isEmpty() ? "\n" : "") + s.phase() + ": " + s.message());
        }
        return s.phase() == Phase.COMPLETED || s.phase() == Phase.PLANNED
            ? ExitCode.OK
            : ExitCode.NOT_COMPLETED;
      }
      Thread.sleep((long) (every * 1000));
    }
  }

  private void printIfChanged(String json) {
    if (!json.equals(lastJson)) {
      out().println(json);
      lastJson = json;
    }
  }

  private void printChanges(UpgradeStatus s, StatusPrinter printer, boolean terminal) {
    PrintWriter out = out();
    List<StepStatus> ended = printer.newlyEnded(s);
    if (!ended.isEmpty() && terminal && !lastBar.isEmpty()) {
      out.print("\r" + " ".repeat(lastBar.length()) + "\r");
      lastBar = "";
    }
    ended.forEach(printer::stepEnded);
    OpenGate gate = s.openGate();
    if (gate != null && seen.add("gate " + gate.gate() + gate.openedAt())) {
      out.printf(
          "gate %s is open (opening %s): %s%n  %s%n"
              + "  approve: bin/opschain-upgrade approve %s --gate %s --opening %s --by <you>%n",
          gate.gate(),
          gate.opening(),
          gate.question(),
          gate.evidence().summary(),
          namespace,
          gate.gate(),
          gate.opening());
      StatusPrinter.dataChecks(out, gate);
    }
    if (s.progress() != null) {
      String bar = StatusPrinter.progressBar(s.progress(), 30);
      if (terminal) {
        out.print("\r" + bar);
        out.flush();
        lastBar = bar;
      } else if (seen.add("progress " + bar.replaceAll("\\s+\\S+/\\S+ [kMG]?B$", ""))) {
        out.println(bar);
      }
    }
  }
}
