package com.limepoint.opschain.dbupgrade.starter;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import io.micronaut.configuration.picocli.MicronautFactory;
import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;
import io.temporal.client.WorkflowNotFoundException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The command-line client, {@code bin/opschain-upgrade}: one subcommand per runbook action, each in
 * its own class. Exit codes are named in {@link ExitCode}: 0 done, 1 the upgrade did not complete,
 * 2 refused.
 */
@Command(
    name = "opschain-upgrade",
    mixinStandardHelpOptions = true,
    versionProvider = Starter.Version.class,
    // Every subcommand takes --help, and its help lists the exit codes too.
    scope = ScopeType.INHERIT,
    description = "Start, steer and watch OpsChain database upgrades.",
    subcommands = {
      Demo.class,
      Start.class,
      Plan.class,
      Approve.class,
      Reject.class,
      Abort.class,
      Status.class,
      Watch.class,
      History.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:done",
      "1:the upgrade did not complete, or Temporal could not be asked",
      "2:refused: bad options or input, nothing was done"
    },
    footer = {"", "Bash completion: source <(bin/opschain-upgrade --completion)"})
public class Starter implements Runnable {

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    // A command-line tool prints its answers, not library logs: warnings and errors only.
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
      logback.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(Level.WARN);
    }
    try (ApplicationContext context =
        ApplicationContext.builder(Starter.class, Environment.CLI).start()) {
      CommandLine cmd = new CommandLine(Starter.class, new MicronautFactory(context));
      System.exit(commandLine(cmd).execute(args));
    }
  }

  /**
   * One line for what went wrong talking to Temporal, instead of a stack trace: the server cannot
   * be reached, there is no such upgrade, or what the server said. Exit code 1.
   */
  static int failed(Exception e, CommandLine cmd, ParseResult parsed) {
    StatusRuntimeException status = null;
    for (Throwable t = e; t != null && status == null; t = t.getCause()) {
      if (t instanceof StatusRuntimeException s) {
        status = s;
      }
    }
    String target =
        cmd.getCommand() instanceof ConnectedCommand c
            ? c.temporal.target
            : "the Temporal frontend";
    cmd.getErr().println("error: " + message(e, status, target));
    return ExitCode.NOT_COMPLETED.code();
  }

  private static String message(Exception e, StatusRuntimeException status, String target) {
    Code code = status == null ? null : status.getStatus().getCode();
    if (e instanceof WorkflowNotFoundException || code == Code.NOT_FOUND) {
      return "no such upgrade on "
          + target
          + ": "
          + (status != null ? status.getStatus().getDescription() : e.getMessage());
    }
    if (code == Code.UNAVAILABLE || code == Code.DEADLINE_EXCEEDED) {
      return "cannot reach Temporal at "
          + target
          + " ("
          + code
          + "): is the server (or the dev-mode worker) running?";
    }
    return status != null
        ? code + ": " + status.getStatus().getDescription()
        : String.valueOf(e.getMessage());
  }

  /** {@code -V}/{@code --version}: the project's version, from the build. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws java.io.IOException {
      var p = new java.util.Properties();
      try (var in = Starter.class.getResourceAsStream("/opschain-upgrade-version.properties")) {
        if (in == null) {
          return new String[] {"opschain-upgrade (version unknown: not built by Maven)"};
        }
        p.load(in);
      }
      return new String[] {
        "opschain-upgrade " + p.getProperty("version"),
        "Temporal Java SDK " + p.getProperty("temporal")
      };
    }
  }

  /**
   * A refused command line or input (a missing request file, an unknown option): the one line that
   * says why, and exit 2; the usage only when the command line itself was malformed, and then as a
   * pointer to --help, not the whole page.
   */
  static int refused(ParameterException e, String[] args) {
    CommandLine cmd = e.getCommandLine();
    cmd.getErr().println("error: " + e.getMessage());
    if (e instanceof CommandLine.UnmatchedArgumentException
        || e instanceof CommandLine.MissingParameterException) {
      cmd.usage(cmd.getErr());
    }
    return ExitCode.REFUSED.code();
  }

  /** The command line as main runs it: one-line errors for refusals and for Temporal's errors. */
  public static CommandLine commandLine(CommandLine cmd) {
    return cmd.setExecutionExceptionHandler(Starter::failed)
        .setParameterExceptionHandler(Starter::refused);
  }

  @Override
  public void run() {
    spec.commandLine()
        .getOut()
        .println(
            "a subcommand is needed: demo, start, approve, reject, abort, status (see --help)");
  }
}
