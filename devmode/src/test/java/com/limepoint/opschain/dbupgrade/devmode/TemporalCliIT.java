package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * Every {@code temporal} command the README shows, run as written by the real {@code temporal} CLI
 * (bin/ensure-temporal's) in a shell, against the dev mode's real server: the README is the one
 * source, and a command it shows that this test does not run fails the test. Only the server's
 * address ({@code TEMPORAL_ADDRESS}, which the CLI reads) and the demo directory differ from a
 * user's run.
 */
class TemporalCliIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String DEMO_DIR = "/tmp/opschain-demo";

  @Test
  void theReadmesTemporalCommandsWorkAsWrittenAgainstTheDevServer() throws Exception {
    Map<String, String> readme = readmeCommands(Files.readString(Path.of("../README.md")));
    DevMode dev = DevMode.start("cli-", Map.of("micronaut.server.port", -1));
    DevTemporalServer server = dev.context().getBean(DevTemporalServer.class);
    DevMode.require(server.real(), "no temporal CLI here: bin/ensure-temporal installs it");
    List<String> ran = new ArrayList<>();
    Shell sh = new Shell(dev, ran);
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(dev.target()).build());
    try {
      assertThat(sh.ok(readme, "operator search-attribute list"))
          .contains("OpsChainNamespace", "UpgradePhase");

      // A first run, stopped at its first gate: terminate ends it before anything changed.
      assertThat(sh.ok(readme, "workflow start")).contains("opschain-db-upgrade-opschain");
      awaitStatus(sh, readme, s -> "START".equals(s.at("/openGate/gate").asText()));
      // The update is validated: BACKUP_VERIFIED is not the open gate, and the CLI says why.
      Shell.Result refused = sh.run(readme.get("workflow update execute"));
      assertThat(refused.code()).isNotZero();
      assertThat(refused.output()).contains("BACKUP_VERIFIED", "START");
      sh.ok(readme, "workflow terminate");
      // Closed: describe shows its close time and run time.
      assertThat(sh.ok(readme, "workflow describe")).contains("CloseTime", "Results:", "RunTime");

      // A second run, cancelled at START: the README's cancel; the status says CANCELED.
      assertThat(sh.ok(readme, "workflow start")).contains("opschain-db-upgrade-opschain");
      awaitStatus(sh, readme, s -> "START".equals(s.at("/openGate/gate").asText()));
      sh.ok(readme, "workflow cancel");
      JsonNode canceled = awaitStatus(sh, readme, s -> "CANCELED".equals(s.get("phase").asText()));
      assertThat(canceled.get("message").asText()).contains("cancelled", "nothing was changed");

      // The whole upgrade, the README's start again, gates by the README's signal and update.
      assertThat(sh.ok(readme, "workflow start")).contains("opschain-db-upgrade-opschain");
      JsonNode status =
          awaitStatus(sh, readme, s -> "START".equals(s.at("/openGate/gate").asText()));
      assertThat(status.get("phase").asText()).isEqualTo("AWAITING_APPROVAL");
      sh.ok(readme, "workflow signal");
      status =
          awaitStatus(sh, readme, s -> "BACKUP_VERIFIED".equals(s.at("/openGate/gate").asText()));
      assertThat(status.at("/approvals/0/by").asText()).isEqualTo("alice");
      assertThat(status.at("/backup/verified").asBoolean()).isTrue();
      // The list reads the visibility store, which follows the history a moment later.
      String listed = "";
      for (int i = 0; i < 20 && !listed.contains("opschain-db-upgrade-opschain"); i++) {
        Thread.sleep(i == 0 ? 0 : 500);
        listed = sh.ok(readme, "workflow list");
      }
      assertThat(listed).contains("opschain-db-upgrade-opschain");
      assertThat(sh.ok(readme, "workflow update execute"))
          .contains("BACKUP_VERIFIED")
          .contains("sizes and SHA-256 match");

      // The last two gates by the SDK client, as the starter does; then the README's reads.
      DbUpgradeWorkflow wf =
          WorkflowClient.newInstance(stubs)
              .newWorkflowStub(DbUpgradeWorkflow.class, "opschain-db-upgrade-opschain");
      for (String gate : List.of("SERVICES_VERIFIED", "FINALIZE")) {
        awaitStatus(sh, readme, s -> gate.equals(s.at("/openGate/gate").asText()));
        wf.approveGate(new GateDecision(gate, "alice", "checked"));
      }
      String result = sh.ok(readme, "workflow result");
      assertThat(result).contains("COMPLETED");
      assertThat(sh.ok(readme, "workflow describe")).contains("CloseTime", "Results:", "RunTime");
      assertThat(sh.ok(readme, "workflow show"))
          .contains("ActivityTaskCompleted", "WorkflowExecutionCompleted");
      assertThat(ran).containsAll(readme.values());
    } finally {
      stubs.shutdownNow();
      dev.close();
    }
  }

  /** Polls the README's status query until {@code until} holds; the status as JSON. */
  private static JsonNode awaitStatus(
      Shell sh, Map<String, String> readme, Predicate<JsonNode> until) throws Exception {
    JsonNode status = null;
    for (int i = 0; i < 120; i++) {
      String out = sh.ok(readme, "workflow query");
      status = JSON.readTree(out.substring(out.indexOf('{'), out.lastIndexOf('}') + 1));
      if (until.test(status)) {
        return status;
      }
      Thread.sleep(500);
    }
    throw new AssertionError("the status never got there; last: " + status);
  }

  /**
   * The README's {@code temporal} commands (in its code blocks, continuation lines joined), by
   * their first two or three words: {@code workflow start}, {@code workflow update execute}, ...
   */
  static Map<String, String> readmeCommands(String readme) {
    Map<String, String> commands = new LinkedHashMap<>();
    String[] lines = readme.split("\n");
    boolean code = false;
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      if (line.startsWith("```")) {
        code = !code;
        continue;
      }
      if (!code || !line.startsWith("temporal ")) {
        continue;
      }
      StringBuilder command = new StringBuilder(line);
      while (command.toString().endsWith("\\") && i + 1 < lines.length) {
        command.setLength(command.length() - 1);
        command.append(' ').append(lines[++i].strip());
      }
      String c = command.toString().replaceAll("\\s+#.*$", "").strip();
      String[] words = c.split("\\s+");
      String key = words[1] + " " + words[2] + (words[2].equals("update") ? " " + words[3] : "");
      if (words[1].equals("operator")) {
        key = words[1] + " " + words[2] + " " + words[3];
      }
      commands.putIfAbsent(key, c);
    }
    return commands;
  }

  /** Runs README lines in bash, with the dev server's address and demo directory. */
  record Shell(DevMode dev, List<String> ran) {
    record Result(int code, String output) {}

    String ok(Map<String, String> readme, String key) throws Exception {
      String command = readme.get(key);
      assertThat(command).as("the README shows a `temporal %s` command", key).isNotNull();
      Result r = run(command);
      assertThat(r.code()).as("%s\n%s", command, r.output()).isZero();
      return r.output();
    }

    /** A login shell's PATH, without what Maven or this JVM added. */
    static String userPath() {
      String path = System.getenv("PATH");
      return path == null || !path.contains("/usr/local/bin")
          ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
          : java.util.Arrays.stream(path.split(":"))
              .filter(p -> !p.contains("/.tools/"))
              .collect(java.util.stream.Collectors.joining(":"));
    }

    Result run(String command) throws IOException, InterruptedException {
      ran.add(command);
      String line = command.replace(DEMO_DIR, dev.demoDir().toString());
      ProcessBuilder pb = new ProcessBuilder("bash", "-c", line).redirectErrorStream(true);
      // The user's PATH as the set-up leaves it (bin/ensure-temporal links the CLI into
      // /usr/local/bin): the README's commands must run as written, with nothing added.
      pb.environment().put("PATH", userPath());
      pb.environment().put("TEMPORAL_ADDRESS", dev.target());
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes());
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as(line).isTrue();
      System.out.println("$ " + command + "\n" + out.strip());
      return new Result(p.exitValue(), out);
    }
  }
}
