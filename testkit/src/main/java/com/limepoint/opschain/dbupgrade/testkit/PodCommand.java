package com.limepoint.opschain.dbupgrade.testkit;

import java.util.List;

/**
 * One command run in a pod through exec, as the harness received it: the argv, who sent it, and
 * when it started and ended (epoch millis; {@code endedMillis} 0 while it runs).
 */
public final class PodCommand {
  private final String namespace;
  private final String pod;
  private final List<String> argv;
  private final String userAgent;
  private final long startedMillis;
  private volatile long endedMillis;
  private volatile int exitCode = -1;

  public PodCommand(String namespace, String pod, List<String> argv, String userAgent, long at) {
    this.namespace = namespace;
    this.pod = pod;
    this.argv = List.copyOf(argv);
    this.userAgent = userAgent;
    this.startedMillis = at;
  }

  /**
   * This command as sent by {@code agent}: the same start, and the end and exit code as they are
   * now (a copy: a command still running keeps reporting to this one).
   */
  public PodCommand asSentBy(String agent) {
    PodCommand c = new PodCommand(namespace, pod, argv, agent, startedMillis);
    c.endedMillis = endedMillis;
    c.exitCode = exitCode;
    return c;
  }

  public String namespace() {
    return namespace;
  }

  public String pod() {
    return pod;
  }

  public List<String> argv() {
    return argv;
  }

  public String userAgent() {
    return userAgent;
  }

  public long startedMillis() {
    return startedMillis;
  }

  public long endedMillis() {
    return endedMillis;
  }

  /** The exit code, or -1 while it runs or when none was reported. */
  public int exitCode() {
    return exitCode;
  }

  /**
   * True when a fenced command's flock refused to run it: exit 75 (the lock is held; the {@code
   * --conflict-exit-code} the activities pass) or 66 ({@code EX_NOINPUT}: the lock file cannot be
   * opened, its attempt folder was fenced off; util-linux flock.c). The program never ran.
   */
  public boolean refusedByFence() {
    return argv.size() > 2
        && argv.get(0).equals("setsid")
        && argv.get(2).equals("flock")
        && (exitCode == 75 || exitCode == 66);
  }

  /** Records the end and exit code (the exec bridge does; a test building a log may too). */
  public void ended(int code) {
    exitCode = code;
    endedMillis = System.currentTimeMillis();
  }

  /**
   * The most of {@code commands} matching {@code regex} that ran at the same time in one pod,
   * leaving out those a fence refused to start: 1 means no retry ever ran beside an earlier
   * attempt's command.
   */
  public static int maxConcurrent(List<PodCommand> commands, String regex) {
    java.util.regex.Pattern p = java.util.regex.Pattern.compile(regex);
    List<PodCommand> matching =
        commands.stream()
            .filter(c -> p.matcher(String.join(" ", c.argv())).find())
            .filter(c -> !c.refusedByFence())
            .toList();
    int max = 0;
    for (PodCommand c : matching) {
      long t = c.startedMillis();
      int n = 0;
      for (PodCommand o : matching) {
        long end = o.endedMillis() == 0 ? Long.MAX_VALUE : o.endedMillis();
        if (o.pod().equals(c.pod()) && o.startedMillis() <= t && t < end) {
          n++;
        }
      }
      max = Math.max(max, n);
    }
    return max;
  }

  @Override
  public String toString() {
    return namespace + "/" + pod + ": " + String.join(" ", argv);
  }
}
