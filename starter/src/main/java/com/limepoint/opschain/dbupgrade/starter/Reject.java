package com.limepoint.opschain.dbupgrade.starter;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Rejects the open gate (a signal: {@code status} shows how the workflow took it). */
@Command(name = "reject", description = "Reject the open gate (signal).")
class Reject extends ConnectedCommand {
  @Mixin Decision decision;

  @Override
  ExitCode execute() {
    try (Connection temporal = connect()) {
      var wf = temporal.upgrade(decision.namespace);
      wf.reject(decision.toGateDecision(wf));
    }
    out().println("sent reject of " + decision.gate + "; check `status` for how it was taken");
    return ExitCode.OK;
  }
}
