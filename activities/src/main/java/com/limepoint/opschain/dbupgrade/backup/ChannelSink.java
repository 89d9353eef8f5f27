package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The copy out's fsync pipeline. Writes the stream into the file, the digest and the archive
 * check's tap, on the activity's thread, gathered into {@value #WRITE_BUFFER}-byte blocks. The disk
 * writes while the stream runs: once {@value #SYNC_STEP} bytes have been written since the last
 * fsync began, the next one starts on a background thread (one at a time; {@code force} takes no
 * lock that writes need). At most every two seconds the offset that a finished fsync made durable
 * is heartbeated, so a retry resumes from it. A failed fsync fails the copy.
 */
final class ChannelSink extends OutputStream {
  private static final long CHECKPOINT_NANOS = 2_000_000_000L;
  private static final int WRITE_BUFFER = 1 << 20;
  private static final long SYNC_STEP = 32L << 20;

  private static final ExecutorService SYNCS =
      Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("copy-fsync-", 0).factory());

  private final FileChannel ch;
  private final MessageDigest digest;
  private final OutputStream tap;
  private final String name;
  private final long size;
  private final ByteBuffer block = ByteBuffer.allocateDirect(WRITE_BUFFER);
  private Future<Long> sync;
  private long syncedFrom;
  private long durable;
  private long beaten;
  private long lastBeat = System.nanoTime();

  /**
   * @param tap also receives every byte, in order (the {@link ArchiveCheck.Tap}); may be a null
   *     stream
   */
  ChannelSink(
      FileChannel ch,
      MessageDigest digest,
      OutputStream tap,
      String name,
      long size,
      long durable) {
    this.ch = ch;
    this.digest = digest;
    this.tap = tap;
    this.name = name;
    this.size = size;
    this.durable = durable;
    this.beaten = durable;
    this.syncedFrom = durable;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    digest.update(b, off, len);
    tap.write(b, off, len);
    while (len > 0) {
      int n = Math.min(len, block.remaining());
      block.put(b, off, n);
      off += n;
      len -= n;
      if (!block.hasRemaining()) {
        flush();
        startSync();
      }
    }
    // A stream of unknown size (a streamed backup) heartbeats pg_basebackup's own progress.
    if (size > 0 && System.nanoTime() - lastBeat >= CHECKPOINT_NANOS) {
      lastBeat = System.nanoTime();
      if (durable > beaten) {
        beaten = durable;
        Heartbeats.beat(CopyProgress.at("copyBackupOut", name, durable, size, null));
      }
    }
  }

  /** Collects a finished fsync, and starts the next once enough has been written since. */
  private void startSync() throws IOException {
    if (sync != null && sync.isDone()) {
      collect();
    }
    long at = ch.position();
    if (sync == null && at - syncedFrom >= SYNC_STEP) {
      syncedFrom = at;
      sync =
          SYNCS.submit(() -> {
            ch.force(false);
            return at;
          });
    }
  }

  /** Waits for the running fsync, if any; afterwards {@link #durable} is its offset. */
  void settle() throws IOException {
    if (sync != null) {
      collect();
    }
  }

  private void collect() throws IOException {
    try {
      durable = Math.max(durable, sync.get());
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for fsync");
    } finally {
      sync = null;
    }
  }

  /** Writes the gathered bytes; the channel's position is then the bytes received. */
  @Override
  public void flush() throws IOException {
    block.flip();
    while (block.hasRemaining()) {
      ch.write(block);
    }
    block.clear();
  }
}
