package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.codec.AesGcmPayloadCodec;
import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.yaml.snakeyaml.Yaml;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The command-line client. Exit codes: 0 done, 1 the upgrade did not complete, 2 refused. */
@Command(
    name = "starter",
    mixinStandardHelpOptions = true,
    description = "Start, steer and watch OpsChain database upgrades.",
    subcommands = {
      Starter.Demo.class,
      Starter.Start.class,
      Starter.Plan.class,
      Starter.Approve.class,
      Starter.Reject.class,
      Starter.Abort.class,
      Starter.Status.class,
      Starter.Watch.class,
      Starter.History.class
    })
public class Starter implements Runnable {

  public static void main(String[] args) {
    // A command-line tool prints its answers, not library logs: warnings and errors only.
    if (org.slf4j.LoggerFactory.getILoggerFactory()
        instanceof ch.qos.logback.classic.LoggerContext logback) {
      logback
          .getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)
          .setLevel(ch.qos.logback.classic.Level.WARN);
    }
    try (io.micronaut.context.ApplicationContext context =
        io.micronaut.context.ApplicationContext.builder(
                Starter.class, io.micronaut.context.env.Environment.CLI)
            .start()) {
      picocli.CommandLine cmd =
          new picocli.CommandLine(
              Starter.class, new io.micronaut.configuration.picocli.MicronautFactory(context));
      System.exit(cmd.setExecutionExceptionHandler(Starter::failed).execute(args));
    }
  }

  /**
   * One line for what went wrong talking to Temporal, instead of a stack trace: the server cannot
   * be reached, there is no such upgrade, or what the server said. Exit code 1.
   */
  static int failed(Exception e, picocli.CommandLine cmd, picocli.CommandLine.ParseResult parsed) {
    io.grpc.StatusRuntimeException status = null;
    for (Throwable t = e; t != null && status == null; t = t.getCause()) {
      if (t instanceof io.grpc.StatusRuntimeException s) {
        status = s;
      }
    }
    Object command = cmd.getCommand();
    String target = command instanceof Connected c ? c.target : "the Temporal frontend";
    String message;
    if (e instanceof io.temporal.client.WorkflowNotFoundException
        || (status != null && status.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND)) {
      message =
          "no such upgrade on "
              + target
              + ": "
              + (status != null ? status.getStatus().getDescription() : e.getMessage());
    } else if (status != null
        && (status.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE
            || status.getStatus().getCode() == io.grpc.Status.Code.DEADLINE_EXCEEDED)) {
      message =
          "cannot reach Temporal at "
              + target
              + " ("
              + status.getStatus().getCode()
              + "): is the server (or the dev-mode worker) running?";
    } else {
      message =
          status != null
              ? status.getStatus().getCode() + ": " + status.getStatus().getDescription()
              : String.valueOf(e.getMessage());
    }
    cmd.getErr().println("error: " + message);
    return 1;
  }

  @Override
  public void run() {
    System.out.println(
        "a subcommand is needed: demo, start, approve, reject, abort, status (see --help)");
  }

  /** Where Temporal is, for every command. */
  abstract static class Connected implements Callable<Integer> {
    @Option(
        names = "--target",
        defaultValue = "localhost:7233",
        description = "Temporal frontend (default ${DEFAULT-VALUE})")
    String target;

    @Option(
        names = "--temporal-namespace",
        defaultValue = "default",
        description = "Temporal namespace (default ${DEFAULT-VALUE})")
    String temporalNamespace;

    @Option(
        names = "--encryption-key-file",
        defaultValue = "${env:OPSCHAIN_ENCRYPTION_KEY_FILE}",
        split = ",",
        description =
            "AES-256 key file(s) of the worker's payload encryption; the first encrypts (env OPSCHAIN_ENCRYPTION_KEY_FILE)")
    List<Path> encryptionKeyFiles;

    final PrintStream out = System.out;

    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    WorkflowClient client() {
      WorkflowServiceStubs stubs =
          WorkflowServiceStubs.newServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(target).build());
      WorkflowClientOptions.Builder b =
          WorkflowClientOptions.newBuilder().setNamespace(temporalNamespace);
      if (encryptionKeyFiles != null && !encryptionKeyFiles.isEmpty()) {
        try {
          b.setDataConverter(AesGcmPayloadCodec.fromKeyFiles(encryptionKeyFiles).dataConverter());
        } catch (IllegalArgumentException e) {
          stubs.shutdownNow();
          throw new picocli.CommandLine.ParameterException(
              spec.commandLine(), "--encryption-key-file: " + e.getMessage());
        }
      }
      return WorkflowClient.newInstance(stubs, b.build());
    }

    /** The request file, checked: a bad one is one clear error (exit 2) before any call. */
    UpgradeRequest load(Path file) throws IOException {
      try {
        return readRequest(file);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
    }

    DbUpgradeWorkflow workflow(WorkflowClient client, String namespace) {
      return client.newWorkflowStub(DbUpgradeWorkflow.class, UpgradeRequests.workflowId(namespace));
    }
  }

  static UpgradeRequest readRequest(Path file) throws IOException {
    Object parsed = new Yaml().load(Files.readString(file));
    if (!(parsed instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException(file + " must hold a mapping of request fields");
    }
    Map<String, Object> fields = new HashMap<>();
    map.forEach((k, v) -> fields.put(String.valueOf(k), v));
    UpgradeRequest r = UpgradeRequest.fromJson(fields);
    // The workflow checks the same rules; checking here refuses bad input before any call.
    try {
      UpgradeRequests.validate(r, UpgradeRequests.workflowId(r.namespace()));
    } catch (ApplicationFailure e) {
      throw new IllegalArgumentException(file + ": " + e.getOriginalMessage());
    }
    return r;
  }

  static DbUpgradeWorkflow startWorkflow(WorkflowClient client, UpgradeRequest request) {
    DbUpgradeWorkflow wf =
        client.newWorkflowStub(
            DbUpgradeWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(DbUpgradeWorkflow.TASK_QUEUE)
                .setWorkflowId(UpgradeRequests.workflowId(request.namespace()))
                .build());
    WorkflowClient.start(wf::run, request);
    return wf;
  }

  @Command(name = "start", description = "Start an upgrade from a request file (YAML or JSON).")
  static class Start extends Connected {
    @Option(names = "--request", required = true, description = "request.yaml or request.json")
    Path request;

    @Override
    public Integer call() throws IOException {
      UpgradeRequest r = load(request);
      try {
        startWorkflow(client(), r);
      } catch (WorkflowExecutionAlreadyStarted e) {
        System.err.println(
            "an upgrade of namespace "
                + r.namespace()
                + " is already running: "
                + UpgradeRequests.workflowId(r.namespace()));
        return 2;
      }
      out.println("started " + UpgradeRequests.workflowId(r.namespace()));
      return 0;
    }
  }

  @Command(
      name = "plan",
      description = "Dry run: the read-only steps, then each step with what it would change.")
  static class Plan extends Connected {
    @Option(names = "--request", required = true, description = "request.yaml or request.json")
    Path request;

    @Override
    public Integer call() throws IOException {
      UpgradeRequest r = load(request).withDryRun(true);
      WorkflowClient client = client();
      try {
        startWorkflow(client, r);
      } catch (WorkflowExecutionAlreadyStarted e) {
        System.err.println("an upgrade of namespace " + r.namespace() + " is already running");
        return 2;
      }
      try {
        UpgradeReport report =
            client
                .newUntypedWorkflowStub(UpgradeRequests.workflowId(r.namespace()))
                .getResult(UpgradeReport.class);
        out.println(report.outcome() + ": " + report.reason());
        report
            .plan()
            .forEach(p ->
                out.printf(
                    "  %-24s %s%s%n",
                    p.step(),
                    p.destructive() ? "[destructive] " : "",
                    p.change().replace("\n", "\n      ")));
        return report.outcome().name().equals("PLANNED") ? 0 : 1;
      } catch (WorkflowFailedException e) {
        out.println("FAILED: " + e.getCause().getMessage());
        return 1;
      }
    }
  }

  @Command(name = "history", description = "A readable summary of the workflow's history events.")
  static class History extends Connected {
    @Parameters(index = "0")
    String namespace;

    @Override
    public Integer call() {
      var events = client().fetchHistory(UpgradeRequests.workflowId(namespace)).getEvents();
      for (var e : events) {
        String what =
            switch (e.getEventType()) {
              case EVENT_TYPE_ACTIVITY_TASK_SCHEDULED ->
                  "scheduled "
                      + e.getActivityTaskScheduledEventAttributes().getActivityType().getName();
              case EVENT_TYPE_ACTIVITY_TASK_COMPLETED -> "completed activity";
              case EVENT_TYPE_ACTIVITY_TASK_FAILED ->
                  "FAILED " + e.getActivityTaskFailedEventAttributes().getFailure().getMessage();
              case EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED ->
                  "signal " + e.getWorkflowExecutionSignaledEventAttributes().getSignalName();
              case EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED ->
                  "update "
                      + e.getWorkflowExecutionUpdateAcceptedEventAttributes()
                          .getAcceptedRequest()
                          .getInput()
                          .getName();
              case EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED ->
                  "child "
                      + e.getStartChildWorkflowExecutionInitiatedEventAttributes().getWorkflowId();
              case EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> "started";
              case EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED -> "completed";
              case EVENT_TYPE_WORKFLOW_EXECUTION_FAILED ->
                  "FAILED "
                      + e.getWorkflowExecutionFailedEventAttributes().getFailure().getMessage();
              default -> null;
            };
        if (what != null) {
          out.printf(
              "%4d  %s  %s%n",
              e.getEventId(),
              java.time.Instant.ofEpochSecond(
                  e.getEventTime().getSeconds(), e.getEventTime().getNanos()),
              what);
        }
      }
      out.println(events.size() + " events");
      return 0;
    }
  }

  /** What approve and reject both take: the namespace, the gate, who decides and why. */
  static class Decision {
    @Parameters(index = "0", description = "the OpsChain namespace being upgraded")
    String namespace;

    @Option(names = "--gate", required = true)
    String gate;

    @Option(names = "--by", required = true)
    String by;

    @Option(names = "--comment", defaultValue = "")
    String comment;

    GateDecision toGateDecision() {
      return new GateDecision(gate, by, comment);
    }
  }

  @Command(
      name = "approve",
      description =
          "Approve the open gate (the approveGate update: you see at once if it is refused).")
  static class Approve extends Connected {
    @Mixin Decision d;

    @Override
    public Integer call() {
      try {
        UpgradeStatus s = workflow(client(), d.namespace).approveGate(d.toGateDecision());
        out.println("approved " + d.gate + "; phase now " + s.phase());
        return 0;
      } catch (WorkflowUpdateException e) {
        System.err.println(
            "refused: "
                + (e.getCause() instanceof ApplicationFailure af
                    ? af.getOriginalMessage()
                    : e.getMessage()));
        return 2;
      }
    }
  }

  @Command(name = "reject", description = "Reject the open gate (signal).")
  static class Reject extends Connected {
    @Mixin Decision d;

    @Override
    public Integer call() {
      workflow(client(), d.namespace).reject(d.toGateDecision());
      out.println("sent reject of " + d.gate + "; check `status` for how it was taken");
      return 0;
    }
  }

  @Command(name = "abort", description = "Abort the upgrade (signal).")
  static class Abort extends Connected {
    @Parameters(index = "0")
    String namespace;

    @Option(names = "--by", required = true)
    String by;

    @Option(names = "--reason", required = true)
    String reason;

    @Override
    public Integer call() {
      workflow(client(), namespace).abort(new AbortRequest(by, reason));
      out.println("sent abort; check `status`");
      return 0;
    }
  }

  @Command(name = "status", description = "Phase, steps, the open gate and approvals.")
  static class Status extends Connected {
    @Parameters(index = "0")
    String namespace;

    @Option(names = "--output", defaultValue = "table", description = "table or json (for scripts)")
    String output;

    @Override
    public Integer call() throws IOException {
      UpgradeStatus s = workflow(client(), namespace).status();
      if (output.equals("json")) {
        out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s));
        return 0;
      }
      out.printf("%s  phase %s  %s%n", s.workflowId(), s.phase(), s.message());
      for (StepStatus step : s.steps()) {
        out.printf(
            "  %-9s %-26s %s%n",
            step.state(), step.name(), step.summary() == null ? "" : step.summary());
      }
      if (s.openGate() != null) {
        out.printf(
            "open gate %s: %s%n  %s%n",
            s.openGate().gate(), s.openGate().question(), s.openGate().evidence().summary());
      }
      s.approvals()
          .forEach(a ->
              out.printf(
                  "  %s %s by %s (%s) %s%n",
                  a.gate(), a.decision(), a.by(), a.via(), a.note() == null ? "" : a.note()));
      return 0;
    }
  }

  @Command(
      name = "watch",
      description =
          "Follow an upgrade: each step as it ends, open gates, and a live progress bar for backup, copy and import.")
  static class Watch extends Connected {
    @Parameters(index = "0")
    String namespace;

    @Option(
        names = "--every",
        defaultValue = "2",
        description = "seconds between status queries (default ${DEFAULT-VALUE})")
    double every;

    @Option(
        names = "--output",
        defaultValue = "text",
        description = "text, or json: one status object per change (for scripts)")
    String output;

    @Override
    public Integer call() throws Exception {
      DbUpgradeWorkflow wf = workflow(client(), namespace);
      boolean terminal = System.console() != null && output.equals("text");
      Set<String> seen = new HashSet<>();
      String lastBar = "";
      String lastJson = "";
      while (true) {
        UpgradeStatus s = wf.status();
        if (output.equals("json")) {
          String json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s);
          if (!json.equals(lastJson)) {
            out.println(json);
            lastJson = json;
          }
        } else {
          for (StepStatus step : s.steps()) {
            if ((step.state() == StepState.DONE || step.state() == StepState.FAILED)
                && seen.add(step.name() + step.state())) {
              if (terminal && !lastBar.isEmpty()) {
                out.print("\r" + " ".repeat(lastBar.length()) + "\r");
                lastBar = "";
              }
              out.printf(
                  "  %-6s %-26s %s%n",
                  step.state() == StepState.DONE ? "done" : "FAILED", step.name(), step.summary());
            }
          }
          if (s.openGate() != null
              && seen.add("gate " + s.openGate().gate() + s.openGate().openedAt())) {
            out.printf(
                "gate %s is open: %s%n  %s%n  approve: starter approve %s --gate %s --by <you>%n",
                s.openGate().gate(),
                s.openGate().question(),
                s.openGate().evidence().summary(),
                namespace,
                s.openGate().gate());
          }
          if (s.progress() != null) {
            String bar = progressBar(s.progress(), 30);
            if (terminal) {
              out.print("\r" + bar);
              out.flush();
              lastBar = bar;
            } else if (seen.add("progress " + bar.replaceAll("\\s+\\S+/\\S+ [kMG]?B$", ""))) {
              out.println(bar);
            }
          }
        }
        if (isFinal(s.phase())) {
          if (output.equals("text")) {
            out.println(
                (terminal && !lastBar.isEmpty() ? "\n" : "") + s.phase() + ": " + s.message());
          }
          return s.phase().name().equals("COMPLETED") || s.phase().name().equals("PLANNED") ? 0 : 1;
        }
        Thread.sleep((long) (every * 1000));
      }
    }
  }

  static boolean isFinal(com.limepoint.opschain.dbupgrade.model.Phase p) {
    return switch (p) {
      case COMPLETED, ABORTED, FAILED, SKIPPED, PLANNED -> true;
      default -> false;
    };
  }

  /**
   * {@code [#########.....................] 30.5% copyBackupOut 1.3/4.2 GB}; no bar without a
   * percentage.
   */
  static String progressBar(com.limepoint.opschain.dbupgrade.model.Progress p, int width) {
    StringBuilder b = new StringBuilder();
    if (p.percent() != null) {
      int filled = (int) Math.round(Math.max(0, Math.min(100, p.percent())) * width / 100);
      b.append('[')
          .append("#".repeat(filled))
          .append(".".repeat(width - filled))
          .append("] ")
          .append(String.format(java.util.Locale.ROOT, "%5.1f%% ", p.percent()));
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
    return String.format(
        java.util.Locale.ROOT, "%.1f/%.1f %s", done / scale, total / scale, units[u]);
  }

  @Command(
      name = "demo",
      description =
          "Run a whole upgrade on the dev-mode worker, approving each gate and printing each step.")
  static class Demo extends Connected {
    @Option(
        names = "--request",
        description = "the dev mode's request (default: <tmp>/opschain-demo/request.json)")
    Path request = Path.of(System.getProperty("java.io.tmpdir"), "opschain-demo", "request.json");

    @Option(names = "--by", defaultValue = "demo-user")
    String by;

    @Override
    public Integer call() throws Exception {
      UpgradeRequest r = load(request);
      WorkflowClient client = client();
      DbUpgradeWorkflow wf = startWorkflow(client, r);
      String id = UpgradeRequests.workflowId(r.namespace());
      out.println("started " + id + " (" + r.currentVersion() + " -> " + r.targetVersion() + ")");
      Set<String> printed = new HashSet<>();
      Set<String> approved = new HashSet<>();
      while (true) {
        UpgradeStatus s;
        try {
          s = wf.status();
        } catch (RuntimeException e) {
          Thread.sleep(200);
          continue;
        }
        for (StepStatus step : s.steps()) {
          if ((step.state() == StepState.DONE || step.state() == StepState.FAILED)
              && printed.add(step.name() + step.state())) {
            out.printf(
                "  %-6s %-26s %s%n",
                step.state() == StepState.DONE ? "done" : "FAILED", step.name(), step.summary());
          }
        }
        OpenGate gate = s.openGate();
        if (gate != null && approved.add(gate.gate().name())) {
          out.printf(
              "gate %s: %s%n  evidence: %s%n",
              gate.gate(), gate.question(), gate.evidence().summary());
          if (gate.evidence().backup() != null) {
            gate.evidence()
                .backup()
                .files()
                .forEach(f ->
                    out.printf(
                        "    %-16s %10d bytes  pod sha256 %s  host sha256 %s%n",
                        f.name(),
                        f.podBytes(),
                        abbreviate(f.podSha256()),
                        abbreviate(f.hostSha256())));
          }
          wf.approveGate(new GateDecision(gate.gate().name(), by, "approved by starter demo"));
          out.printf("  approved %s as %s%n", gate.gate(), by);
        }
        if (s.phase().name().matches("COMPLETED|ABORTED|FAILED|SKIPPED|PLANNED")) {
          break;
        }
        Thread.sleep(200);
      }
      try {
        UpgradeReport report = client.newUntypedWorkflowStub(id).getResult(UpgradeReport.class);
        out.println(report.outcome() + ": " + report.reason());
        return report.outcome().name().equals("COMPLETED") ? 0 : 1;
      } catch (WorkflowFailedException e) {
        out.println("FAILED: " + e.getCause().getMessage());
        return 1;
      }
    }

    private static String abbreviate(String sha) {
      return sha == null ? "-" : sha.substring(0, Math.min(12, sha.length())) + "...";
    }
  }
}
