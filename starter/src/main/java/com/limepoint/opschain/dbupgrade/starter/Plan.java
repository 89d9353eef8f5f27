package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.PlannedChange;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The dry run: the workflow runs its read-only steps and returns what each step would change. */
@Command(
    name = "plan",
    description = "Dry run: the read-only steps, then each step with what it would change.")
class Plan extends ConnectedCommand {
  @Option(names = "--request", required = true, description = "request.yaml or request.json")
  Path request;

  @Override
  ExitCode execute() {
    UpgradeRequest r = load(request).withDryRun(true);
    try (Connection temporal = connect()) {
      try {
        temporal.start(r);
      } catch (WorkflowExecutionAlreadyStarted e) {
        err().println("an upgrade of namespace " + r.namespace() + " is already running");
        return ExitCode.REFUSED;
      }
      UpgradeReport report = awaitReport(temporal, r.namespace());
      if (report == null) {
        return ExitCode.NOT_COMPLETED;
      }
      report.plan().forEach(this::print);
      return report.outcome() == Outcome.PLANNED ? ExitCode.OK : ExitCode.NOT_COMPLETED;
    }
  }

  private void print(PlannedChange p) {
    out()
        .printf(
            "  %-24s %s%s%n",
            p.step(),
            p.destructive() ? "[destructive] " : "",
            p.change().replace("\n", "\n      "));
  }
}
