package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Approves the open gate through the {@code approveGate} update, so that a refusal (wrong gate, not
 * an approver) is seen at once.
 */
@Command(
    name = "approve",
    description =
        "Approve the open gate (the approveGate update: you see at once if it is refused).")
class Approve extends ConnectedCommand {
  @Mixin Decision decision;

  @Override
  ExitCode execute() {
    try (Connection temporal = connect()) {
      var wf = temporal.upgrade(decision.namespace);
      UpgradeStatus s = wf.approveGate(decision.toGateDecision(wf));
      out().println("approved " + decision.gate + "; " + Decision.after(s, decision.gate));
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
}
