package com.limepoint.opschain.dbupgrade.starter;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.Progress;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
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
    int code =
        new CommandLine(new Starter())
            .setErr(new PrintWriter(err))
            .execute("start", "--target", "127.0.0.1:1", "--request", request.toString());

    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).contains("namespace").contains("Bad_Name");
  }

  @Test
  void theProgressBarShowsPercentStepAndBytes() {
    var copy =
        new Progress("copyBackupOut", 30.0, 1_300_000_000L, 4_200_000_000L, null, null, null);
    var importing =
        new Progress("awaitImport", null, null, null, "cluster: Setting up primary", null, null);

    assertThat(StatusPrinter.progressBar(copy, 10))
        .isEqualTo("[###.......]  30.0% copyBackupOut  1.3/4.2 GB");
    assertThat(StatusPrinter.progressBar(importing, 4))
        .isEqualTo("[    ]   ...  awaitImport  cluster: Setting up primary");
    assertThat(
            StatusPrinter.progressBar(
                new Progress("takeBackup", 100.0, null, null, null, null, null), 4))
        .isEqualTo("[####] 100.0% takeBackup");
  }

  @Test
  void anUnreachableTemporalIsOneLineNotAStackTrace() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
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
