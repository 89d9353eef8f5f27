package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.GateDecision;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** What approve and reject both take: the namespace, the gate, who decides and why. */
class Decision {
  @Parameters(index = "0", description = "the OpsChain namespace being upgraded")
  String namespace;

  @Option(names = "--gate", required = true)
  String gate;

  @Option(names = "--by", required = true)
  String by;

  @Option(names = "--comment", defaultValue = "")
  String comment;

  GateDecision toGateDecision() {
    return new GateDecision(gate, by, comment);
  }
}
