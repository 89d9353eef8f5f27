package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import java.io.IOException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The whole status at once, as a table or as JSON. */
@Command(name = "status", description = "Phase, steps, the open gate and approvals.")
class Status extends ConnectedCommand {
  @Parameters(index = "0")
  String namespace;

  @Option(names = "--output", defaultValue = "table", description = "table or json (for scripts)")
  String output;

  @Override
  ExitCode execute() throws IOException {
    UpgradeStatus s;
    try (Connection temporal = connect()) {
      s = temporal.upgrade(namespace).status();
    }
    print(s);
    return ExitCode.OK;
  }

  void print(UpgradeStatus s) throws IOException {
    if (output.equals("json")) {
      out().println(StatusPrinter.json(s));
    } else {
      new StatusPrinter(out()).table(s);
    }
  }
}
