package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A subcommand that talks to Temporal: the connection options, the request file, picocli's writers
 * (so that tests and callers can capture the output) and a named {@link ExitCode}.
 */
abstract class ConnectedCommand implements Callable<Integer> {
  @Mixin TemporalOptions temporal;

  @Spec CommandSpec spec;

  @Override
  public final Integer call() throws Exception {
    return execute().code();
  }

  /** What the command does; exceptions from Temporal go to {@link Starter#failed} (exit 1). */
  abstract ExitCode execute() throws Exception;

  /** The connection for this invocation; close it (try-with-resources). */
  Connection connect() {
    return temporal.connect(spec.commandLine());
  }

  /** The request file, checked: a bad one is one clear error (exit 2) before any call. */
  UpgradeRequest load(Path file) {
    try {
      return RequestFile.read(file);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  /**
   * Waits for the upgrade's report and prints its outcome; prints why and returns null when the
   * workflow failed.
   */
  UpgradeReport awaitReport(Connection temporal, String namespace) {
    try {
      UpgradeReport report = temporal.report(namespace);
      out().println(report.outcome() + ": " + report.reason());
      return report;
    } catch (WorkflowFailedException e) {
      if (e.getCause() instanceof io.temporal.failure.CanceledFailure) {
        // Temporal keeps no result for a cancelled run: the status holds what the cancel led to.
        var s = temporal.upgrade(namespace).status();
        out().println(s.phase() + ": " + s.message());
        return null;
      }
      out().println("FAILED: " + e.getCause().getMessage());
      return null;
    }
  }

  /**
   * Approves or rejects the open gate by the validated update; prints the state after the decision
   * took effect, or the refusal (exit 2).
   */
  ExitCode decide(Decision decision, boolean approve) {
    try (Connection temporal = connect()) {
      var wf = temporal.upgrade(decision.namespace);
      var d = decision.toGateDecision(wf);
      UpgradeStatus s = approve ? wf.approveGate(d) : wf.rejectGate(d);
      out()
          .println(
              (approve ? "approved " : "rejected ")
                  + decision.gate
                  + "; "
                  + Decision.after(s, decision.gate));
      return ExitCode.OK;
    } catch (WorkflowUpdateException e) {
      err()
          .println(
              "refused: "
                  + (e.getCause() instanceof ApplicationFailure af
                      ? af.getOriginalMessage()
                      : e.getMessage()));
      return ExitCode.REFUSED;
    }
  }

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }
}
