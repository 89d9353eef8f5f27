package com.limepoint.opschain.dbupgrade.starter;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Bad input to the starter: one clear error, exit code 2, and no call to Temporal. */
class StarterTest {

  @Test
  void aKeyFileThatIsNotAKeyIsOneClearErrorWithoutTheFileContent(@TempDir Path dir)
      throws Exception {
    Path key = Files.writeString(dir.resolve("key"), "my secret passphrase");
    StringWriter err = new StringWriter();
    // Nothing listens on this port: a refusal must come before any connection.
    int code =
        new CommandLine(new Starter())
            .setErr(new PrintWriter(err))
            .execute(
                "status",
                "opschain",
                "--target",
                "127.0.0.1:1",
                "--encryption-key-file",
                key.toString());

    assertThat(code).isEqualTo(2);
    assertThat(err.toString())
        .contains("--encryption-key-file: " + key + " is not a base64 key")
        .doesNotContain("Exception")
        .doesNotContain("passphrase");
  }

  @Test
  void aRequestWithBadFieldsIsRefusedBeforeAnyCall(@TempDir Path dir) throws Exception {
    Path request =
        Files.writeString(dir.resolve("request.yaml"), "namespace: Bad_Name\nrelease: opschain\n");
    StringWriter err = new StringWriter();
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    java.io.PrintStream original = System.out;
    System.setOut(new java.io.PrintStream(out, true));
    int code;
    try {
      code =
          new CommandLine(new Starter())
              .setErr(new PrintWriter(err))
              .execute("start", "--target", "127.0.0.1:1", "--request", request.toString());
    } finally {
      System.setOut(original);
    }
    assertThat(code).isEqualTo(2);
    assertThat(out + err.toString()).contains("namespace").contains("Bad_Name");
  }

  @Test
  void theProgressBarShowsPercentStepAndBytes() {
    var copy =
        new com.limepoint.opschain.dbupgrade.model.Progress(
            "copyBackupOut", 30.0, 1_300_000_000L, 4_200_000_000L, null, null, null);
    var importing =
        new com.limepoint.opschain.dbupgrade.model.Progress(
            "awaitImport", null, null, null, "cluster: Setting up primary", null, null);

    assertThat(Starter.progressBar(copy, 10))
        .isEqualTo("[###.......]  30.0% copyBackupOut  1.3/4.2 GB");
    assertThat(Starter.progressBar(importing, 4))
        .isEqualTo("[    ]   ...  awaitImport  cluster: Setting up primary");
    assertThat(
            Starter.progressBar(
                new com.limepoint.opschain.dbupgrade.model.Progress(
                    "takeBackup", 100.0, null, null, null, null, null),
                4))
        .isEqualTo("[####] 100.0% takeBackup");
  }

  @Test
  void anUnreachableTemporalIsOneLineNotAStackTrace() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    StringWriter err = new StringWriter();
    int code =
        new CommandLine(new Starter())
            .setExecutionExceptionHandler(Starter::failed)
            .setErr(new PrintWriter(err))
            .execute("status", "opschain", "--target", "127.0.0.1:" + closed);

    assertThat(code).isEqualTo(1);
    assertThat(err.toString().strip())
        .startsWith("error: cannot reach Temporal at 127.0.0.1:" + closed)
        .doesNotContain("\tat ");
  }
}
