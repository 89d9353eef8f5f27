package com.limepoint.opschain.dbupgrade.starter;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.ApprovalEntry;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.Progress;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The commands print through picocli's writers (so that callers and tests capture them), and
 * status, watch and demo read a status record through the one {@link StatusPrinter}.
 */
class OutputTest {
  private static final UpgradeStatus ENDED =
      status(
          Phase.FAILED,
          null,
          List.of(
              new StepStatus("takeBackup", "", StepState.DONE, null, null, "3 files, 1.2 GB"),
              new StepStatus("upgradeRelease", "", StepState.FAILED, null, null, "helm: timeout"),
              new StepStatus("restartServices", "", StepState.PENDING, null, null, null)));

  private final StringWriter out = new StringWriter();
  private final CommandLine cmd = new CommandLine(new Starter()).setOut(new PrintWriter(out));

  @Test
  void statusWatchAndDemoPrintTheSameStepsFromTheSameRecord() throws Exception {
    cmd.parseArgs("status", "opschain");
    this.<Status>command("status").print(ENDED);
    String status = take();
    cmd.parseArgs("watch", "opschain", "--every", "0");
    ExitCode watchCode = this.<Watch>command("watch").follow(new FakeUpgrade(ENDED));
    String watch = take();
    cmd.parseArgs("demo");
    this.<Demo>command("demo").followApprovingGates(new FakeUpgrade(ENDED));
    String demo = take();

    assertThat(status)
        .isEqualTo(
            """
            db-upgrade-opschain  phase FAILED  upgradeRelease failed
              DONE      takeBackup                 3 files, 1.2 GB
              FAILED    upgradeRelease             helm: timeout
              PENDING   restartServices           \s
            """);
    String endedSteps =
        """
          done   takeBackup                 3 files, 1.2 GB
          FAILED upgradeRelease             helm: timeout
        """;
    assertThat(watch).isEqualTo(endedSteps + "FAILED: upgradeRelease failed\n");
    assertThat(demo).isEqualTo(endedSteps);
    assertThat(watchCode).isEqualTo(ExitCode.NOT_COMPLETED);
  }

  @Test
  void watchPrintsEachEndedStepOnceAndTheGateWithHowToApproveIt() throws Exception {
    StepStatus backup = new StepStatus("takeBackup", "", StepState.DONE, null, null, "3 files");
    OpenGate gate =
        new OpenGate(
            Gate.BACKUP_VERIFIED,
            "Deploy?",
            "2026-01-01T00:00:00Z",
            null,
            List.of(),
            new GateEvidence("hashes equal", null, null, null),
            "3f1c9a2e:BACKUP_VERIFIED#1");
    FakeUpgrade upgrade =
        new FakeUpgrade(
            status(Phase.AWAITING_APPROVAL, gate, List.of(backup)),
            status(Phase.AWAITING_APPROVAL, gate, List.of(backup)),
            status(Phase.COMPLETED, null, List.of(backup)));
    cmd.parseArgs("watch", "opschain", "--every", "0");

    ExitCode code = this.<Watch>command("watch").follow(upgrade);

    assertThat(code).isEqualTo(ExitCode.OK);
    assertThat(take())
        .isEqualTo(
            """
              done   takeBackup                 3 files
            gate BACKUP_VERIFIED is open (opening 3f1c9a2e:BACKUP_VERIFIED#1): Deploy?
              hashes equal
              approve: bin/opschain-upgrade approve opschain --gate BACKUP_VERIFIED --opening 3f1c9a2e:BACKUP_VERIFIED#1 --by <you>
            COMPLETED: upgradeRelease failed
            """);
  }

  @Test
  void watchReturnsWhenTheServerClosedTheRunWithoutTheWorkflowSayingSo() throws Exception {
    // Terminated at a gate: the last status still says AWAITING_APPROVAL, and always will.
    UpgradeStatus waiting = status(Phase.AWAITING_APPROVAL, null, List.of());
    cmd.parseArgs("watch", "opschain", "--every", "0");

    ExitCode code =
        this.<Watch>command("watch").follow(new FakeUpgrade(waiting), () -> "TERMINATED");

    assertThat(code).isEqualTo(ExitCode.NOT_COMPLETED);
    assertThat(take())
        .startsWith("TERMINATED: the run was closed by the server while AWAITING_APPROVAL");
  }

  @Test
  void theDemoShowsTheRehearsalAndTheKeysTheDeployChangesAndSendsTheOpening() throws Exception {
    String changes =
        "values.migration.yaml (120 bytes, sha256 ab12) from values.yaml, keys changed:\n"
            + "+ db.recoveryMode: true";
    OpenGate gate =
        new OpenGate(
            Gate.BACKUP_VERIFIED,
            "Deploy?",
            "t",
            null,
            List.of(),
            new GateEvidence(
                "verified",
                List.of(
                    "sha256 equal",
                    "source census: source: 3 tables, 20000 rows, 3 checksummed",
                    "restored once: 3 tables, counts and checksums equal to source"),
                null,
                changes),
            "3f1c9a2e:BACKUP_VERIFIED#1");
    FakeUpgrade upgrade =
        new FakeUpgrade(
            status(Phase.AWAITING_APPROVAL, gate, List.of()),
            status(Phase.AWAITING_APPROVAL, gate, List.of()),
            status(Phase.COMPLETED, null, List.of()));
    cmd.parseArgs("demo", "--by", "alice");

    this.<Demo>command("demo").followApprovingGates(upgrade);

    assertThat(upgrade.approvals)
        .containsExactly(
            new GateDecision(
                "BACKUP_VERIFIED", "alice", "approved by starter demo", gate.opening()));
    assertThat(take())
        .isEqualTo(
            "gate BACKUP_VERIFIED: Deploy?\n  evidence: verified\n"
                + "  source census: source: 3 tables, 20000 rows, 3 checksummed\n"
                + "  restored once: 3 tables, counts and checksums equal to source\n"
                + "    values.migration.yaml (120 bytes, sha256 ab12) from values.yaml, keys changed:\n"
                + "    + db.recoveryMode: true\n"
                + "  approved BACKUP_VERIFIED as alice\n");
  }

  @Test
  void demoApprovesEachGateOnceAndSaysSo() throws Exception {
    OpenGate gate =
        new OpenGate(
            Gate.START, "Stop?", "t", null, List.of(), new GateEvidence("ready", null, null, null));
    FakeUpgrade upgrade =
        new FakeUpgrade(
            status(Phase.AWAITING_APPROVAL, gate, List.of()),
            status(Phase.AWAITING_APPROVAL, gate, List.of()),
            status(Phase.COMPLETED, null, List.of()));
    cmd.parseArgs("demo", "--by", "alice");

    this.<Demo>command("demo").followApprovingGates(upgrade);

    assertThat(upgrade.approvals)
        .containsExactly(new GateDecision("START", "alice", "approved by starter demo"));
    assertThat(take())
        .isEqualTo("gate START: Stop?\n  evidence: ready\n  approved START as alice\n");
  }

  @Test
  void nothingGoesToSystemOut() {
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    PrintStream original = System.out;
    System.setOut(new PrintStream(stdout, true));
    int code;
    try {
      // Built after System.setOut: picocli's default execution strategy remembers the System.out
      // of its construction and would put a writer on that one back over the one set here.
      code = new CommandLine(new Starter()).setOut(new PrintWriter(out)).execute();
    } finally {
      System.setOut(original);
    }

    assertThat(code).isEqualTo(ExitCode.OK.code());
    assertThat(out.toString())
        .isEqualTo(
            "a subcommand is needed: demo, start, approve, reject, abort, status (see --help)\n");
    // Only what this thread wrote: another test's gRPC channel, closing on a thread of its own,
    // may log a line (logback's default pattern, its thread in brackets) while System.out is ours.
    String mine = "[" + Thread.currentThread().getName() + "]";
    assertThat(
            stdout
                .toString()
                .lines()
                .filter(l -> !OTHER_THREADS_LOG.matcher(l).matches() || l.contains(mine)))
        .isEmpty();
  }

  private static final java.util.regex.Pattern OTHER_THREADS_LOG =
      java.util.regex.Pattern.compile("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[[^\\]]+\\] .*");

  private <T> T command(String name) {
    return cmd.getSubcommands().get(name).getCommand();
  }

  private String take() {
    String printed = out.toString();
    out.getBuffer().setLength(0);
    return printed;
  }

  private static UpgradeStatus status(Phase phase, OpenGate gate, List<StepStatus> steps) {
    return new UpgradeStatus(
        "db-upgrade-opschain",
        "opschain",
        phase,
        "upgradeRelease failed",
        gate,
        steps,
        List.<ApprovalEntry>of(),
        null,
        null,
        null,
        false);
  }

  /** The workflow as the commands see it through its stub: status answers, one after another. */
  private static final class FakeUpgrade implements DbUpgradeWorkflow {
    private final List<UpgradeStatus> answers;
    private final List<GateDecision> approvals = new ArrayList<>();
    private int next;

    FakeUpgrade(UpgradeStatus... answers) {
      this.answers = List.of(answers);
    }

    @Override
    public UpgradeStatus status() {
      return answers.get(Math.min(next++, answers.size() - 1));
    }

    @Override
    public UpgradeStatus approveGate(GateDecision decision) {
      approvals.add(decision);
      return answers.get(Math.min(next, answers.size() - 1));
    }

    @Override
    public UpgradeReport run(UpgradeRequest request) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void approve(GateDecision decision) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void reject(GateDecision decision) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void abort(AbortRequest request) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void validateApproveGate(GateDecision decision) {
      throw new UnsupportedOperationException();
    }

    @Override
    public UpgradeStatus rejectGate(GateDecision decision) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void validateRejectGate(GateDecision decision) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void reportProgress(Progress progress) {
      throw new UnsupportedOperationException();
    }
  }
}
