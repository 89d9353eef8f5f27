package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Asks the upgrade to stop (a signal: it undoes what it can, or stops at the next gate). */
@Command(name = "abort", description = "Abort the upgrade (signal).")
class Abort extends ConnectedCommand {
  @Parameters(index = "0")
  String namespace;

  @Option(names = "--by", required = true)
  String by;

  @Option(names = "--reason", required = true)
  String reason;

  @Override
  ExitCode execute() {
    try (Connection temporal = connect()) {
      temporal.upgrade(namespace).abort(new AbortRequest(by, reason));
    }
    out().println("sent abort; check `status`");
    return ExitCode.OK;
  }
}
