package com.limepoint.opschain.dbupgrade.testkit;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * A slow pod command, as on a loaded node or a slow disk: an exec whose argv (joined by spaces)
 * matches {@code regex} starts {@code delay} late, or, with {@code pauseAfter}, starts and is
 * stopped (SIGSTOP to its process group, and no more of its stdin delivered) after that long,
 * leaving its partial work behind, until someone sends it SIGCONT or kills it. {@code skip}
 * matching execs go by untouched first.
 */
public final class ExecFault {
  private final Pattern regex;
  private final Duration delay;
  private final Duration pauseAfter;
  private final boolean once;
  private final AtomicInteger skip;

  ExecFault(Pattern regex, Duration delay, Duration pauseAfter, boolean once, int skip) {
    this.regex = regex;
    this.delay = delay;
    this.pauseAfter = pauseAfter;
    this.once = once;
    this.skip = new AtomicInteger(skip);
  }

  Duration delay() {
    return delay;
  }

  Duration pauseAfter() {
    return pauseAfter;
  }

  boolean once() {
    return once;
  }

  private final CountDownLatch paused = new CountDownLatch(1);

  /** The exec bridge stopped the command (SIGSTOP sent to a live process). */
  void paused() {
    paused.countDown();
  }

  /** Waits until the bridge has stopped the command; false when it did not within the time. */
  boolean awaitPaused(java.time.Duration timeout) throws InterruptedException {
    return paused.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** True when this exec is the one to slow down (counting down the ones to skip). */
  boolean takes(String commandLine) {
    return regex.matcher(commandLine).find() && skip.getAndDecrement() <= 0;
  }
}
