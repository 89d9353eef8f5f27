package com.limepoint.opschain.dbupgrade.backup;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Reads a stream ahead on a thread of its own, a few chunks at most, so that the work of producing
 * the bytes (decompressing an archive) runs beside the work of sending them (an exec's stdin),
 * instead of taking turns with it on one thread. Measured on the 4.3 GiB benchmark database
 * (docs/performance.md): the rehearsal's extraction spent its thread's time on decompressing and
 * hashing between sends.
 *
 * <p>The source is read only by the read-ahead thread until the end was handed over or {@link
 * #close} returned; it is never closed here: the caller owns it, and may read on from it (the
 * trailing bytes of a digested file) once this stream has ended.
 */
final class ReadAhead extends InputStream {
  static final int CHUNK = 1 << 20;
  private static final int DEPTH = 8;
  private static final byte[] END = new byte[0];

  private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(DEPTH);
  private final Thread thread;
  private volatile boolean closed;
  private volatile IOException failure;
  private byte[] current = new byte[0];
  private int pos;
  private boolean ended;

  ReadAhead(InputStream source, String name) {
    this.thread = Thread.ofPlatform().daemon().name("read-ahead-" + name).start(() -> pump(source));
  }

  private void pump(InputStream source) {
    try {
      while (!closed) {
        byte[] buf = source.readNBytes(CHUNK);
        if (buf.length == 0) {
          break;
        }
        if (!offer(buf.length == CHUNK ? buf : Arrays.copyOf(buf, buf.length))) {
          return;
        }
      }
    } catch (IOException | RuntimeException e) {
      failure = e instanceof IOException io ? io : new IOException(e);
    }
    offer(END);
  }

  /** Hands a chunk over; false once closed (nobody reads any more). */
  private boolean offer(byte[] chunk) {
    try {
      while (!closed) {
        if (chunks.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
          return true;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    while (!ended && pos == current.length) {
      try {
        current = chunks.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while reading ahead");
      }
      pos = 0;
      if (current == END) {
        ended = true;
        if (failure != null) {
          throw failure;
        }
      }
    }
    if (ended) {
      return -1;
    }
    int n = Math.min(len, current.length - pos);
    System.arraycopy(current, pos, b, off, n);
    pos += n;
    return n;
  }

  /** Stops the read-ahead thread and waits for it, so the source is no longer in use. */
  @Override
  public void close() throws IOException {
    closed = true;
    chunks.clear();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while stopping the read-ahead");
    }
  }
}
