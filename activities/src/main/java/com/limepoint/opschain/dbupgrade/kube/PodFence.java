package com.limepoint.opschain.dbupgrade.kube;

import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps a retried attempt from running beside an earlier one in a pod. Closing an exec does not
 * stop its process (the runtime leaves it running: kubernetes/kubernetes#89031,
 * kubernetes/kubectl#1076, opencontainers/runc#3359), and an attempt whose heartbeat timed out may
 * still be running in a worker that lost touch with Temporal; either may go on changing what the
 * retry changes. So every command that changes what a run owns runs {@link PodCommands#fenced
 * fenced}, under an exclusive flock on this attempt's lock file, {@code
 * <fenceDir>/attempt-<n>/.lock}, as the leader of its own process group. {@code n} is the attempt's
 * {@link Heartbeats#fenceToken fencing token}: it grows with every attempt, also across the new
 * rounds of attempts the workflow schedules when a step's workers were lost (their attempt numbers
 * start at 1 again).
 *
 * <p>{@link #begin} makes attempt {@code n} the only one: it renames every earlier attempt's folder
 * away, so that attempt's next fenced command cannot even open its lock and fails before it runs (a
 * fencing token, in the file system); then it finds whoever still holds the renamed lock in {@code
 * /proc/locks}, confirms by its command line that it is a fenced command on that lock, sends its
 * process group SIGTERM (then SIGKILL) until the lock is free, and removes the folder. An attempt
 * that finds a later attempt's folder stops at once.
 */
public final class PodFence {
  private static final Duration SHORT = Duration.ofMinutes(2);
  private static final Duration GRACE = Duration.ofSeconds(30);
  private static final java.util.regex.Pattern ATTEMPT =
      java.util.regex.Pattern.compile("attempt-([0-9]+)");
  private static final java.util.regex.Pattern STOPPED =
      java.util.regex.Pattern.compile("stopped-attempt-([0-9]+)-by-([0-9]+)");

  private final PodExec exec;

  public PodFence(PodExec exec) {
    this.exec = exec;
  }

  /** What {@link #begin} did: this attempt's lock, and what it stopped (for the log). */
  public record Fence(String lock, List<String> stopped) {}

  /**
   * Makes the current attempt the only one working in {@code fenceDir} (a directory this run owns)
   * and returns the lock its fenced commands must hold.
   */
  public Fence begin(String ns, String pod, String fenceDir) {
    long me = Heartbeats.fenceToken();
    exec.check(ns, pod, PodCommands.mkdirs(fenceDir), SHORT);
    List<String> stopped = new ArrayList<>();
    for (String entry :
        exec.check(ns, pod, PodCommands.listDir(fenceDir), SHORT).lines().toList()) {
      var leftover = STOPPED.matcher(entry);
      if (leftover.matches()) {
        // An earlier retry renamed this folder and was cut off before it stopped the holders
        // or removed it: finish that work.
        String named = fenceDir + "/attempt-" + leftover.group(1) + "/" + LOCK;
        String what = stopHolders(ns, pod, fenceDir + "/" + entry + "/" + LOCK, named);
        if (!what.isEmpty()) {
          stopped.add(what);
        }
        exec.check(ns, pod, PodCommands.removeTree(fenceDir + "/" + entry), SHORT);
        continue;
      }
      var m = ATTEMPT.matcher(entry);
      if (!m.matches()) {
        continue;
      }
      long other = Long.parseLong(m.group(1));
      if (other > me) {
        throw laterAttempt(ns, pod, other, me);
      }
      if (other < me) {
        String from = fenceDir + "/" + entry;
        String to = fenceDir + "/stopped-" + entry + "-by-" + me;
        // First the token: once renamed, that attempt's next fenced command cannot open its lock.
        exec.check(ns, pod, PodCommands.move(from, to), SHORT);
        String what = stopHolders(ns, pod, to + "/" + LOCK, from + "/" + LOCK);
        if (!what.isEmpty()) {
          stopped.add(what);
        }
        exec.check(ns, pod, PodCommands.removeTree(to), SHORT);
      }
    }
    String mine = fenceDir + "/attempt-" + me;
    exec.check(ns, pod, PodCommands.mkdirs(mine), SHORT);
    // A later attempt may have listed the folder while this one stalled: look again, now that
    // this attempt's folder exists (the later one renames it away, or this one steps back).
    for (String entry :
        exec.check(ns, pod, PodCommands.listDir(fenceDir), SHORT).lines().toList()) {
      var m = ATTEMPT.matcher(entry);
      if (m.matches() && Long.parseLong(m.group(1)) > me) {
        throw laterAttempt(ns, pod, Long.parseLong(m.group(1)), me);
      }
    }
    return new Fence(mine + "/" + LOCK, stopped);
  }

  /** Says attempt numbers: a token's attempt is its remainder (see Heartbeats.fenceToken). */
  private static ApplicationFailure laterAttempt(String ns, String pod, long later, long me) {
    return ApplicationFailure.newFailure(
        "attempt "
            + later % Heartbeats.TOKEN_ATTEMPTS
            + (later / Heartbeats.TOKEN_ATTEMPTS > me / Heartbeats.TOKEN_ATTEMPTS
                ? " of a later round"
                : "")
            + " of this step has started in pod "
            + ns
            + "/"
            + pod
            + "; attempt "
            + me % Heartbeats.TOKEN_ATTEMPTS
            + " stops without changing anything",
        PodExec.POD_COMMAND_FAILED);
  }

  static final String LOCK = ".lock";

  /**
   * Stops this attempt's own fenced commands in {@code fenceDir} (what holds its lock), when it was
   * cancelled or timed out: the exec it closes leaves them running. Returns what it stopped ("" for
   * nothing). Called inside {@link Heartbeats#whileCleaningUp}.
   */
  public String stopOwn(String ns, String pod, String fenceDir) {
    String lock = fenceDir + "/attempt-" + Heartbeats.fenceToken() + "/" + LOCK;
    return stopHolders(ns, pod, lock, lock).replace("an earlier attempt's", "this attempt's");
  }

  /**
   * Stops whoever holds the lock file now at {@code lock}, whose fenced commands named it {@code
   * named}; returns what it did ("" when nobody held it).
   */
  private String stopHolders(String ns, String pod, String lock, String named) {
    if (free(ns, pod, lock)) {
      return "";
    }
    List<Long> holders = holders(ns, pod, lock, named);
    for (String signal : List.of("TERM", "KILL")) {
      if (!holders.isEmpty()) {
        exec.run(ns, pod, PodCommands.signalGroups(signal, holders), SHORT);
      }
      long started = System.nanoTime();
      while (System.nanoTime() - started < GRACE.toNanos()) {
        if (free(ns, pod, lock)) {
          return "stopped an earlier attempt's process group(s) "
              + holders
              + " holding "
              + named
              + " with SIG"
              + signal;
        }
        Heartbeats.alive("stopping an earlier attempt's processes on " + named, started);
        sleep();
        holders = holders(ns, pod, lock, named);
      }
    }
    throw ApplicationFailure.newFailure(
        "an earlier attempt's process still holds "
            + named
            + " in pod "
            + ns
            + "/"
            + pod
            + " after SIGTERM and SIGKILL (process groups "
            + holders
            + "); nothing was changed",
        PodExec.POD_COMMAND_FAILED);
  }

  /** True when nobody holds the lock; creates the lock file when missing. */
  public boolean free(String ns, String pod, String lock) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.lockFree(lock), SHORT);
    if (r.exitCode() == PodCommands.LOCK_BUSY) {
      return false;
    }
    if (!r.ok()) {
      throw ApplicationFailure.newFailure(
          "flock " + lock + " in pod " + ns + "/" + pod + " failed: " + r.stderr().strip(),
          PodExec.POD_COMMAND_FAILED);
    }
    return true;
  }

  /**
   * The process groups holding {@code lock}: pids from {@code /proc/locks} whose command line is a
   * fenced command on the lock named {@code named} (the flock process is its group's leader).
   */
  List<Long> holders(String ns, String pod, String lock, String named) {
    PodExec.Result ino = exec.run(ns, pod, PodCommands.inode(lock), SHORT);
    if (!ino.ok()) {
      return List.of();
    }
    String inode = ino.stdout().strip();
    String locks = exec.check(ns, pod, PodCommands.procLocks(), SHORT);
    List<Long> out = new ArrayList<>();
    for (long pid : lockHolders(locks, inode)) {
      PodExec.Result cmd = exec.run(ns, pod, PodCommands.cmdline(pid), SHORT);
      List<String> argv = List.of(cmd.stdout().split("\0"));
      if (cmd.ok() && argv.contains("flock") && argv.contains(named) && !out.contains(pid)) {
        out.add(pid);
      }
    }
    return out;
  }

  /**
   * Pids of granted locks on {@code inode} in {@code /proc/locks} text ({@code 1: FLOCK ADVISORY
   * WRITE 123 fe:00:4567 0 EOF}); waiters ({@code 1: -> FLOCK ...}) are skipped.
   */
  static List<Long> lockHolders(String procLocks, String inode) {
    List<Long> pids = new ArrayList<>();
    for (String line : procLocks.lines().toList()) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 6 && !f[1].equals("->") && f[5].endsWith(":" + inode)) {
        try {
          pids.add(Long.parseLong(f[4]));
        } catch (NumberFormatException e) {
          // not a line of the expected shape
        }
      }
    }
    return pids;
  }

  private static void sleep() {
    try {
      Thread.sleep(500);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted", PodExec.POD_COMMAND_FAILED);
    }
  }
}
