package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The pieces of the fence that need no pod: the wrapper's shape and reading /proc/locks. */
class PodFenceTest {

  @Test
  void aFencedCommandIsSetsidFlockAndTheCommandAsSeparateArguments() {
    List<String> argv =
        PodCommands.fenced("/tmp/backup/wf.run/attempt-2/.lock", PodCommands.removeTree("/x y"));

    assertThat(argv)
        .containsExactly(
            "setsid",
            "--wait",
            "flock",
            "--exclusive",
            "--nonblock",
            "--conflict-exit-code",
            "75",
            "/tmp/backup/wf.run/attempt-2/.lock",
            "rm",
            "-rf",
            "--",
            "/x y");
    assertThat(PodCommands.describe(argv)).isEqualTo("rm");
    assertThat(PodCommands.describe(PodCommands.listDir("/tmp"))).isEqualTo("ls");
  }

  @Test
  void signalsGoToProcessGroupsGivenAsArgumentsNotInTheScript() {
    List<String> argv = PodCommands.signalGroups("TERM", List.of(41L, 42L));

    assertThat(argv.subList(0, 2)).containsExactly("perl", "-e");
    assertThat(argv.get(2)).doesNotContain("41", "42", "TERM");
    assertThat(argv.subList(3, argv.size())).containsExactly("--", "TERM", "41", "42");
  }

  @Test
  void holdersAreTheGrantedLocksOnTheInodeNotTheWaiters() {
    String procLocks =
        """
        1: FLOCK  ADVISORY  WRITE 4047 fe:00:9980529 0 EOF
        1: -> FLOCK  ADVISORY  WRITE 4100 fe:00:9980529 0 EOF
        2: POSIX  ADVISORY  READ 812 00:19:9980529 0 EOF
        3: FLOCK  ADVISORY  WRITE 900 fe:00:99805290 0 EOF
        4: OFDLCK ADVISORY  READ -1 00:06:1039 0 EOF
        """;

    assertThat(PodFence.lockHolders(procLocks, "9980529")).containsExactly(4047L, 812L);
    assertThat(PodFence.lockHolders(procLocks, "1")).isEmpty();
  }
}
