package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Starts an upgrade and returns at once; {@code watch} follows it. */
@Command(name = "start", description = "Start an upgrade from a request file (YAML or JSON).")
class Start extends ConnectedCommand {
  @Option(names = "--request", required = true, description = "request.yaml or request.json")
  Path request;

  @Override
  ExitCode execute() {
    UpgradeRequest r = load(request);
    String workflowId = UpgradeRequests.workflowId(r.namespace());
    try (Connection temporal = connect()) {
      temporal.start(r);
    } catch (WorkflowExecutionAlreadyStarted e) {
      err()
          .println(
              "an upgrade of namespace " + r.namespace() + " is already running: " + workflowId);
      return ExitCode.REFUSED;
    }
    out().println("started " + workflowId);
    return ExitCode.OK;
  }
}
