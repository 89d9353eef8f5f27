package com.limepoint.opschain.dbupgrade.starter;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Which case gives which exit code (see {@link ExitCode}). Nothing listens on 127.0.0.1:1: a
 * refusal must come before any connection, or the error would be "cannot reach" with exit 1.
 */
class ExitCodeTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    // As main runs it: Starter.commandLine sets the handlers for refusals and Temporal's errors.
    return Starter.commandLine(new CommandLine(new Starter()))
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(err))
        .execute(args);
  }

  @Test
  void theNumbersAreTheOnesScriptsRead() {
    assertThat(ExitCode.OK.code()).isZero();
    assertThat(ExitCode.NOT_COMPLETED.code()).isEqualTo(1);
    assertThat(ExitCode.REFUSED.code()).isEqualTo(2);
  }

  @Test
  void aMissingRequestFileIsRefusedBeforeAnyCall(@TempDir Path dir) {
    Path missing = dir.resolve("request.yaml");

    int code = run("start", "--target", "127.0.0.1:1", "--request", missing.toString());

    assertThat(code).isEqualTo(ExitCode.REFUSED.code());
    assertThat(err.toString())
        .contains("cannot read " + missing + ": no such file")
        .doesNotContain("cannot reach")
        .doesNotContain("Exception");
    // One line: the error, not the usage after it.
    assertThat(err.toString().strip().lines()).hasSize(1);
    assertThat(err.toString()).doesNotContain("Usage:");
  }

  @Test
  void aRequestFileThatIsNotYamlIsRefusedBeforeAnyCall(@TempDir Path dir) throws Exception {
    Path request = Files.writeString(dir.resolve("request.yaml"), "namespace: [opschain\n");

    int code = run("plan", "--target", "127.0.0.1:1", "--request", request.toString());

    assertThat(code).isEqualTo(ExitCode.REFUSED.code());
    assertThat(err.toString()).contains(request + " is not YAML or JSON").doesNotContain("\tat ");
  }

  @Test
  void aRequestFileThatIsNotAMappingIsRefusedBeforeAnyCall(@TempDir Path dir) throws Exception {
    Path request = Files.writeString(dir.resolve("request.yaml"), "- opschain\n");

    int code = run("demo", "--target", "127.0.0.1:1", "--request", request.toString());

    assertThat(code).isEqualTo(ExitCode.REFUSED.code());
    assertThat(err.toString()).contains(request + " must hold a mapping of request fields");
  }

  @Test
  void anUnknownOptionIsAUsageErrorWithCodeTwo() {
    int code = run("status", "opschain", "--no-such-option");

    assertThat(code).isEqualTo(ExitCode.REFUSED.code());
    assertThat(err.toString()).contains("Unknown option: '--no-such-option'").contains("Usage:");
  }

  @Test
  void approveWithoutAGateIsAUsageErrorWithCodeTwo() {
    int code = run("approve", "opschain", "--by", "alice", "--target", "127.0.0.1:1");

    assertThat(code).isEqualTo(ExitCode.REFUSED.code());
    assertThat(err.toString()).contains("Missing required option: '--gate=<gate>'");
  }

  @Test
  void helpIsDoneAndListsTheExitCodes() {
    int code = run("--help");

    assertThat(code).isEqualTo(ExitCode.OK.code());
    assertThat(out.toString())
        .contains("Usage: opschain-upgrade")
        .contains("Exit codes:")
        .containsPattern("2 +refused");
  }

  @Test
  void everySubcommandTakesHelpAndListsTheExitCodes() {
    int code = run("approve", "--help");

    assertThat(code).isEqualTo(ExitCode.OK.code());
    assertThat(out.toString())
        .contains("Usage: opschain-upgrade approve")
        .contains("--gate=<gate>")
        .contains("Exit codes:");
  }
}
