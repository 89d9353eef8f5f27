package com.limepoint.opschain.dbupgrade.starter;

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
    return decide(decision, true);
  }
}
