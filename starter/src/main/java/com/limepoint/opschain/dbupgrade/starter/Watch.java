package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
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
      return follow(temporal.upgrade(namespace), () -> closedHow(temporal));
    }
  }

  /** How the server says the run closed (TERMINATED, ...), or null while it runs. */
  private String closedHow(Connection temporal) {
    var st = temporal.executionStatus(namespace);
    return st == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        ? null
        : st.name().replace("WORKFLOW_EXECUTION_STATUS_", "");
  }

  /** {@link #follow(DbUpgradeWorkflow, Supplier)} with the status query alone. */
  ExitCode follow(DbUpgradeWorkflow wf) throws IOException, InterruptedException {
    return follow(wf, () -> null);
  }

  /**
   * Queries the status until the upgrade ends, or until the server says the run closed in another
   * way (terminated, timed out, cancelled or failed before the workflow could say so: {@code
   * closedHow} is not null); 0 when it completed (or planned), else 1.
   */
  ExitCode follow(DbUpgradeWorkflow wf, Supplier<String> closedHow)
      throws IOException, InterruptedException {
    boolean terminal = System.console() != null && output.equals("text");
    seen.clear();
    lastBar = "";
    lastJson = "";
    StatusPrinter printer = new StatusPrinter(out());
    while (true) {
      UpgradeStatus s;
      try {
        s = wf.status();
      } catch (RuntimeException e) {
        String closed = closedHow.get();
        if (closed == null) {
          throw e;
        }
        out().println(closed + ": the run closed before it could report its status");
        return ExitCode.NOT_COMPLETED;
      }
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
      String closed = closedHow.get();
      if (closed != null) {
        // It may have ended just after the query: its own last word, when it has one, decides.
        UpgradeStatus last = wf.status();
        if (StatusPrinter.isFinal(last.phase())) {
          continue;
        }
        out()
            .println(
                (terminal && !lastBar.isEmpty() ? "\n" : "")
                    + closed
                    + ": the run was closed by the server while "
                    + s.phase()
                    + " ("
                    + s.message()
                    + "); nothing compensated it: check the cluster (status and history show the"
                    + " last step)");
        return ExitCode.NOT_COMPLETED;
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
      StatusPrinter.backupFiles(out, gate);
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
