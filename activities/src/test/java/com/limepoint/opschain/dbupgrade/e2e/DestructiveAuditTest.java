package com.limepoint.opschain.dbupgrade.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.model.ApprovalEntry;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.PodCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit itself: what it lets through and what it must catch. */
class DestructiveAuditTest {
  static final String WF = "opschain-db-upgrade-opschain";
  static final String RUN = "0b6c3f5e-8a51-4c2e-9d0e-3f6f3c1a2b7d";
  static final long GATE = 1_000_000L;

  @TempDir Path tmp;

  @Test
  void aRemoveTreeOfAnArbitraryPathIsCaughtAndOnlyRunOwnedOrGatedTargetsPass() throws Exception {
    String base = tmp.resolve("backup").toString();
    String runDir = base + "/" + WF + "." + RUN;
    Files.createDirectories(Path.of(runDir));
    Files.writeString(Path.of(runDir, "OWNER"), WF + " " + RUN + "\n");
    String pgdata = tmp.resolve("pvc/data/pgdata").toString();
    String stranger = base + "/someone-elses";
    Files.createDirectories(Path.of(stranger));

    List<PodCommand> commands = new ArrayList<>();
    commands.add(cmd(10, List.of("mkdir", "-p", "--", base)));
    commands.add(cmd(11, PodCommands.mkdirNew(runDir)));
    commands.add(
        cmd(12, PodCommands.fenced(runDir + "/.lock", PodCommands.removeTree(runDir + "/backup"))));
    // Caught: an rm -rf of a path the run did not create, a pgdata wipe before the gate, and a
    // signal to a process whose command line was never read.
    commands.add(cmd(13, PodCommands.removeTree(stranger)));
    commands.add(cmd(14, PodCommands.emptyDir(pgdata)));
    commands.add(cmd(15, PodCommands.signalGroups("TERM", List.of(4242L))));
    // Allowed: the same wipe after MANUAL_RESTORE was approved over a verified backup, and a
    // signal after reading the process's command line.
    commands.add(cmd(GATE + 1, PodCommands.emptyDir(pgdata)));
    commands.add(cmd(GATE + 2, PodCommands.cmdline(77)));
    commands.add(cmd(GATE + 3, PodCommands.signalGroups("TERM", List.of(77L))));
    List<ClusterInABox.ApiCall> calls =
        List.of(
            new ClusterInABox.ApiCall(
                "DELETE",
                "/apis/postgresql.cnpg.io/v1/namespaces/opschain/clusters/opschain-db",
                ClusterInABox.ACTIVITY_AGENT,
                20),
            new ClusterInABox.ApiCall(
                "DELETE",
                "/apis/postgresql.cnpg.io/v1/namespaces/opschain/clusters/opschain-db",
                ClusterInABox.ACTIVITY_AGENT,
                GATE + 5));
    List<DestructiveAudit.Deploy> deploys =
        List.of(
            new DestructiveAudit.Deploy("2026-02-10", "early", 30),
            new DestructiveAudit.Deploy("2025-10-01", "stopOpsChain", 31));

    List<String> violations = DestructiveAudit.violations(run(pgdata), commands, calls, deploys);

    assertThat(violations)
        .hasSize(5)
        .anyMatch(v -> v.contains("rm -rf -- " + stranger))
        .anyMatch(v -> v.contains("find " + pgdata) && v.contains("before"))
        .anyMatch(v -> v.contains("signals process group 4242"))
        .anyMatch(v -> v.startsWith("DELETE /apis/postgresql.cnpg.io"))
        .anyMatch(v -> v.contains("helm upgrade to 2026-02-10 (early)"))
        .noneMatch(v -> v.contains(runDir + "/backup"))
        .noneMatch(v -> v.contains("signals process group 77"));
  }

  private static DestructiveAudit.Run run(String pgdata) {
    String at = Instant.ofEpochMilli(GATE).toString();
    return new DestructiveAudit.Run(
        WF,
        "2026-02-10",
        pgdata,
        List.of(
            new ApprovalEntry("BACKUP_VERIFIED", "bob", at, null, "APPROVED", "signal", null),
            new ApprovalEntry("MANUAL_RESTORE", "alice", at, null, "APPROVED", "update", null)),
        List.of(
            new StepStatus(
                "verifyBackup",
                "verify",
                StepState.DONE,
                at,
                Instant.ofEpochMilli(500).toString(),
                "verified")));
  }

  /** A command that ran at {@code at} and exited 0. */
  private static PodCommand cmd(long at, List<String> argv) {
    PodCommand c =
        new PodCommand("opschain", "opschain-db-7d9f", argv, ClusterInABox.ACTIVITY_AGENT, at);
    c.ended(0);
    return c;
  }
}
