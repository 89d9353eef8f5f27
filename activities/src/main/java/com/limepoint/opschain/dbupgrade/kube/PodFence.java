package com.limepoint.opschain.dbupgrade.kube;

import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps a retried attempt from running beside an earlier one in a pod. Every command that changes
 * what a run owns runs {@link PodCommands#fenced fenced}: under an exclusive flock on a lock file
 * beside what it changes, as the leader of its own process group. Closing an exec does not stop its
 * process (the kubelet leaves it running), so an attempt that timed out, or whose worker died, may
 * still be working in the pod. Before a retry touches anything it calls {@link #stopEarlier}: when
 * the lock is held, the holder is found in {@code /proc/locks}, confirmed by its command line to be
 * a fenced command on that very lock, and its process group is sent SIGTERM (then SIGKILL) until
 * the lock is free.
 */
public final class PodFence {
  private static final Duration SHORT = Duration.ofMinutes(2);
  private static final Duration GRACE = Duration.ofSeconds(30);

  private final PodExec exec;

  public PodFence(PodExec exec) {
    this.exec = exec;
  }

  /**
   * Stops whatever an earlier attempt still runs under {@code lock}; returns what it did, for the
   * log ("" when nothing held the lock). The lock's directory must exist.
   */
  public String stopEarlier(String ns, String pod, String lock) {
    if (free(ns, pod, lock)) {
      return "";
    }
    List<Long> holders = holders(ns, pod, lock);
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
              + lock
              + " with SIG"
              + signal;
        }
        Heartbeats.alive("stopping an earlier attempt's processes on " + lock, started);
        sleep();
        holders = holders(ns, pod, lock);
      }
    }
    throw ApplicationFailure.newFailure(
        "an earlier attempt's process still holds "
            + lock
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
   * fenced command on that lock (the flock process is its group's leader).
   */
  List<Long> holders(String ns, String pod, String lock) {
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
      if (cmd.ok() && argv.contains("flock") && argv.contains(lock) && !out.contains(pid)) {
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
