package com.limepoint.opschain.dbupgrade.starter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.limepoint.opschain.dbupgrade.model.ApprovalEntry;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.Progress;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * How the {@code status} query reads on the command line, for {@code status} (the whole table),
 * {@code watch} and {@code demo} (each step once, as it ends). One printer per command run: it
 * remembers which steps it has printed.
 */
final class StatusPrinter {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final PrintWriter out;
  private final Set<String> ended = new HashSet<>();

  StatusPrinter(PrintWriter out) {
    this.out = out;
  }

  /** Whether the upgrade has ended: nothing more will change. */
  static boolean isFinal(Phase p) {
    return switch (p) {
      case COMPLETED, ABORTED, CANCELED, FAILED, SKIPPED, PLANNED -> true;
      default -> false;
    };
  }

  /** The status as one JSON object on one line, for {@code --output json} (scripts). */
  static String json(UpgradeStatus s) throws IOException {
    return JSON.writeValueAsString(s);
  }

  /** {@code status}: the phase, every step with its state, the open gate and the approvals. */
  void table(UpgradeStatus s) {
    out.printf("%s  phase %s  %s%n", s.workflowId(), s.phase(), s.message());
    for (StepStatus step : s.steps()) {
      out.printf(
          "  %-9s %-26s %s%n",
          step.state(), step.name(), step.summary() == null ? "" : step.summary());
    }
    if (s.openGate() != null) {
      out.printf(
          "open gate %s (opening %s): %s%n  %s%n",
          s.openGate().gate(),
          s.openGate().opening(),
          s.openGate().question(),
          s.openGate().evidence().summary());
      backupFiles(out, s.openGate());
      valuesChanges(out, s.openGate());
    }
    for (ApprovalEntry a : s.approvals()) {
      out.printf(
          "  %s %s by %s (%s) %s%n",
          a.gate(), a.decision(), a.by(), a.via(), a.note() == null ? "" : a.note());
    }
  }

  /** The steps that have ended (done or failed) since this printer last saw the status. */
  List<StepStatus> newlyEnded(UpgradeStatus s) {
    return s.steps().stream()
        .filter(step -> step.state() == StepState.DONE || step.state() == StepState.FAILED)
        .filter(step -> ended.add(step.name() + step.state()))
        .toList();
  }

  /** {@code watch} and {@code demo}: one line for a step that ended. */
  void stepEnded(StepStatus step) {
    out.printf(
        "  %-6s %-26s %s%n",
        step.state() == StepState.DONE ? "done" : "FAILED", step.name(), step.summary());
  }

  /**
   * {@code [#########.....................] 30.5% copyBackupOut 1.3/4.2 GB}; no bar without a
   * percentage.
   */
  static String progressBar(Progress p, int width) {
    StringBuilder b = new StringBuilder();
    if (p.percent() != null) {
      int filled = (int) Math.round(Math.max(0, Math.min(100, p.percent())) * width / 100);
      b.append('[')
          .append("#".repeat(filled))
          .append(".".repeat(width - filled))
          .append("] ")
          .append(String.format(Locale.ROOT, "%5.1f%% ", p.percent()));
    } else {
      b.append("[").append(" ".repeat(width)).append("]   ...  ");
    }
    b.append(p.step());
    if (p.message() != null && !p.message().isBlank() && p.percent() == null) {
      b.append("  ").append(p.message());
    }
    if (p.bytesTotal() != null && p.bytesTotal() > 0) {
      b.append("  ").append(bytes(p.bytesDone() == null ? 0 : p.bytesDone(), p.bytesTotal()));
    }
    return b.toString();
  }

  private static String bytes(long done, long total) {
    String[] units = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    double scale = 1;
    while (total / scale >= 1000 && u < units.length - 1) {
      scale *= 1000;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f/%.1f %s", done / scale, total / scale, units[u]);
  }

  /**
   * What the gate's next deploy changes in values.yaml: key paths, the values the workflow
   * computed, the written file's hash (no other values content reaches the workflow).
   */
  static void valuesChanges(java.io.PrintWriter out, OpenGate gate) {
    dataChecks(out, gate);
    String changes = gate.evidence().valuesDiff();
    if (changes != null && !changes.isBlank()) {
      changes.lines().forEach(l -> out.printf("    %s%n", l));
    }
  }

  /** The backup's files at the gate: each one's size and SHA-256 in the pod and on the host. */
  static void backupFiles(java.io.PrintWriter out, OpenGate gate) {
    if (gate.evidence().backup() == null || gate.evidence().backup().files() == null) {
      return;
    }
    gate.evidence()
        .backup()
        .files()
        .forEach(f ->
            out.printf(
                "    %-16s %10d bytes  pod sha256 %s  host sha256 %s%n",
                f.name(), f.podBytes(), abbreviate(f.podSha256()), abbreviate(f.hostSha256())));
  }

  private static String abbreviate(String sha) {
    return sha == null ? "-" : sha.substring(0, Math.min(12, sha.length())) + "...";
  }

  /** How the lines about the data begin. */
  private static final java.util.List<String> DATA_CHECK_LINES =
      java.util.List.of("source census", "restored once", "restore rehearsal", "parity:");

  /** The gate's lines about the data: the source census, the restore rehearsal, the parity. */
  static void dataChecks(java.io.PrintWriter out, OpenGate gate) {
    gate.evidence().details().stream()
        .filter(d -> DATA_CHECK_LINES.stream().anyMatch(d::startsWith))
        .forEach(d -> out.printf("  %s%n", d));
  }
}
