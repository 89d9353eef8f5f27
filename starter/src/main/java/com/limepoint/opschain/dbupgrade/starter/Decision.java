package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
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

  /**
   * What the workflow did with a decision, from the status its update answered with (taken after
   * the gate closed): the phase and message now, or that the gate still waits for a second
   * approver.
   */
  static String after(UpgradeStatus s, String gate) {
    if (s.openGate() != null && s.openGate().gate().name().equalsIgnoreCase(gate)) {
      return "gate " + s.openGate().gate() + " is still open: it needs a second approver";
    }
    return "phase now " + s.phase() + ": " + s.message();
  }
}
