package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
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

  @Option(
      names = "--opening",
      description =
          "the gate opening to decide (the status shows it); default: the open one, read first")
  String opening;

  /** The decision for the named opening, or for the opening of that gate open now. */
  GateDecision toGateDecision(DbUpgradeWorkflow wf) {
    String id = opening;
    if (id == null) {
      OpenGate open = wf.status().openGate();
      id = open != null && open.gate().name().equalsIgnoreCase(gate) ? open.opening() : null;
    }
    return new GateDecision(gate, by, comment, id);
  }
}
