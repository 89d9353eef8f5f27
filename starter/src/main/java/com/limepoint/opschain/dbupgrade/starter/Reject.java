package com.limepoint.opschain.dbupgrade.starter;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Rejects the open gate through the {@code rejectGate} update: a refusal (no such gate open, not an
 * approver) is seen at once and exits 2, as {@code approve} does; the answer is the status after
 * the rejection took effect.
 */
@Command(
    name = "reject",
    description = "Reject the open gate (the rejectGate update: you see at once if it is refused).")
class Reject extends ConnectedCommand {
  @Mixin Decision decision;

  @Override
  ExitCode execute() {
    return decide(decision, false);
  }
}
