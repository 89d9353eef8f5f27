package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How many Helm processes may run at once. Each is a JVM of about 160 MiB resident (issue 18's
 * measurement of a Helm call; not re-measured here), so a worker with many upgrades at once would
 * otherwise start as many as it has Helm activities running and overrun its memory limit. A call
 * waits for a slot, heartbeating, and the largest wait is kept for the load benchmark.
 */
public final class HelmSlots {
  /** What one Helm process costs, resident (a rounded-up measurement). */
  static final long PROCESS_BYTES = 192L << 20;

  /** What the worker itself keeps for its own heap and native memory, from its limit. */
  static final long WORKER_BYTES = 512L << 20;

  static final int MAX_DEFAULT = 8;

  private final int permits;
  private final Semaphore slots;
  private final AtomicLong largestWaitMillis = new AtomicLong();

  public HelmSlots(int permits) {
    if (permits < 1) {
      throw new IllegalArgumentException("Helm processes must be at least 1, not " + permits);
    }
    this.permits = permits;
    this.slots = new Semaphore(permits, true);
  }

  /**
   * The default for a worker whose memory limit is {@code limitBytes}: what is left beside the
   * worker, in Helm processes, at least 1 and at most {@value #MAX_DEFAULT} (1 GiB: 2).
   */
  public static int defaultFor(long limitBytes) {
    long n = (limitBytes - WORKER_BYTES) / PROCESS_BYTES;
    return (int) Math.max(1, Math.min(MAX_DEFAULT, n));
  }

  /**
   * This JVM's memory limit: the container's where there is one (the JDK reads the cgroup), else
   * the machine's memory.
   */
  public static long memoryLimit() {
    var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.OperatingSystemMXBean sun
        ? sun.getTotalMemorySize()
        : Runtime.getRuntime().maxMemory();
  }

  public int permits() {
    return permits;
  }

  /** Runs {@code call} once a slot is free; waits heartbeating (on an activity's thread). */
  public <T> T run(String what, java.util.function.Supplier<T> call) {
    long start = System.nanoTime();
    try {
      while (!slots.tryAcquire(Heartbeats.SLICE.toMillis(), TimeUnit.MILLISECONDS)) {
        Heartbeats.alive("waiting for one of " + permits + " Helm processes for " + what, start);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure(
          "interrupted while waiting for a Helm process for " + what, FailureTypes.HELM_FAILED);
    }
    largestWaitMillis.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
    try {
      return call.get();
    } finally {
      slots.release();
    }
  }

  /** Calls running now. */
  public int running() {
    return permits - slots.availablePermits();
  }

  /** The largest wait for a slot since the last call, in milliseconds; resets it. */
  public long takeLargestWaitMillis() {
    return largestWaitMillis.getAndSet(0);
  }
}
