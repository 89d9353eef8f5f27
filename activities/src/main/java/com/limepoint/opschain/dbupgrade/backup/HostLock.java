package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The host side's fence: one attempt at a time writes into a host backup dir. An attempt holds an
 * exclusive file lock on {@code <dir>/.lock} (so another worker process on this host waits) and is
 * registered in this JVM. A retry that finds an earlier attempt of this JVM still registered (its
 * heartbeat timed out while its thread kept going) stops it first: interrupts its thread and closes
 * the channels it writes through, so not one more byte of it reaches the disk, then takes the lock.
 */
final class HostLock implements AutoCloseable {
  private static final Map<Path, HostLock> HELD = new ConcurrentHashMap<>();
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final Path key;
  private final FileChannel channel;
  private final Thread owner = Thread.currentThread();
  private final List<FileChannel> guarded = new CopyOnWriteArrayList<>();
  private final CountDownLatch released = new CountDownLatch(1);

  private HostLock(Path key, FileChannel channel) {
    this.key = key;
    this.channel = channel;
  }

  /** Takes the lock of {@code dir} (which must exist), stopping an earlier attempt of this JVM. */
  static HostLock acquire(Path dir) throws IOException {
    Path key = dir.toAbsolutePath().normalize();
    FileChannel ch =
        FileChannel.open(key.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    long started = System.nanoTime();
    try {
      while (true) {
        HostLock earlier = HELD.get(key);
        if (earlier != null) {
          earlier.stop();
        }
        try {
          FileLock lock = ch.tryLock();
          if (lock != null) {
            HostLock mine = new HostLock(key, ch);
            HELD.put(key, mine);
            return mine;
          }
        } catch (OverlappingFileLockException e) {
          // The earlier attempt's channel is still closing.
        }
        if (System.nanoTime() - started > WAIT.toNanos()) {
          throw ApplicationFailure.newFailure(
              "another process on this host holds "
                  + key.resolve(".lock")
                  + "; nothing was written",
              PodExec.POD_COMMAND_FAILED);
        }
        Heartbeats.alive("waiting for " + key.resolve(".lock"), started);
        Thread.sleep(200);
      }
    } catch (InterruptedException e) {
      ch.close();
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while taking " + key);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Closes this channel too when a retry stops this attempt. */
  FileChannel guard(FileChannel writer) throws IOException {
    synchronized (this) {
      if (!stopped) {
        guarded.add(writer);
        return writer;
      }
    }
    writer.close();
    throw stoppedFailure();
  }

  /**
   * Fails when a retry has stopped this attempt: called before each rename or delete, which no
   * closed channel would prevent.
   */
  synchronized void check() {
    if (stopped) {
      throw stoppedFailure();
    }
  }

  private ApplicationFailure stoppedFailure() {
    return ApplicationFailure.newFailure(
        "a later attempt took over " + key + "; this one stops without changing anything",
        PodExec.POD_COMMAND_FAILED);
  }

  private boolean closed;
  private boolean stopped;

  /** A retry stops this attempt: no further write of it can reach the disk. */
  private void stop() {
    synchronized (this) {
      stopped = true;
      if (!closed) {
        // Only while the attempt still runs: its pool thread must not carry the interrupt into
        // the next activity it runs.
        owner.interrupt();
        for (FileChannel c : guarded) {
          closeQuietly(c);
        }
        closeQuietly(channel);
      }
    }
    try {
      released.await(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    HELD.remove(key, this);
  }

  @Override
  public synchronized void close() {
    closed = true;
    HELD.remove(key, this);
    closeQuietly(channel);
    released.countDown();
  }

  private static void closeQuietly(FileChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      // closing is all that is wanted
    }
  }
}
