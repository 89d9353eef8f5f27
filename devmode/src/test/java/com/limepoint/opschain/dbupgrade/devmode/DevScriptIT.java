package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code bin/dev} as a user runs it in a terminal: it starts the dev mode, says who may approve,
 * and Ctrl-C (SIGINT to its whole process group, as a terminal sends it) stops it gracefully with
 * exit code 0 and no stack trace.
 */
class DevScriptIT {

  @Test
  void binDevSaysWhoMayApproveAndCtrlCEndsItWithZero() throws Exception {
    DevMode.require(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    Path dir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("bin-dev-");
    Path log = dir.resolve("bin-dev.log");
    ProcessBuilder pb =
        // A process group of its own, as a terminal's foreground job has: Ctrl-C goes to it all.
        new ProcessBuilder("setsid", "bash", "../bin/dev")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    int port = DevMode.freePort();
    pb.environment().put("OPSCHAIN_DEV_PORT", String.valueOf(port));
    pb.environment().put("OPSCHAIN_TEMPORAL_TARGET", "localhost:" + port);
    pb.environment().put("OPSCHAIN_DEV_UI_PORT", String.valueOf(DevMode.freePort()));
    pb.environment().put("OPSCHAIN_DEMO_DIR", dir.resolve("demo").toString());
    pb.environment().put("MICRONAUT_SERVER_PORT", "-1");
    Process p = pb.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
      while (!Files.readString(log).contains("polling ")) {
        assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
        assertThat(System.nanoTime()).as(Files.readString(log)).isLessThan(deadline);
        Thread.sleep(500);
      }
      Thread.sleep(1000);

      // Ctrl-C: SIGINT to the whole foreground process group.
      new ProcessBuilder("kill", "-INT", "--", "-" + p.pid()).start().waitFor();

      assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
      String printed = Files.readString(log);
      System.out.println(printed);
      assertThat(p.exitValue()).as(printed).isZero();
      assertThat(printed)
          .contains(
              "anyone who can reach Temporal may approve every gate",
              "one approval decides MANUAL_RESTORE and FINALIZE",
              "dev mode stopped")
          .doesNotContain("Exception")
          .doesNotContain("BUILD FAILURE")
          .doesNotContain("\tat ");
    } finally {
      new ProcessBuilder("kill", "-KILL", "--", "-" + p.pid()).start().waitFor();
      com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(dir);
    }
  }
}
