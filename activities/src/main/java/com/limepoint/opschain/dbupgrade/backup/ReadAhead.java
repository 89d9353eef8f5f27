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
  private volatile Throwable failure;
  private byte[] current = new byte[0];
  private int pos;
  private boolean ended;

  ReadAhead(InputStream source, String name) {
    this.thread = Thread.ofPlatform().daemon().name("read-ahead-" + name).start(() -> pump(source));
  }

  private void pump(InputStream source) {
    try {
      boolean eof = false;
      while (!closed && !eof) {
        byte[] buf = new byte[CHUNK];
        int n = 0;
        // One read of the source at a time, so that close() waits for one read, not a chunk's.
        while (n < CHUNK && !closed) {
          int r = source.read(buf, n, CHUNK - n);
          if (r < 0) {
            eof = true;
            break;
          }
          n += r;
        }
        if (n > 0 && !offer(n == CHUNK ? buf : Arrays.copyOf(buf, n))) {
          break;
        }
      }
    } catch (Throwable e) {
      // Errors too (an OutOfMemoryError): the reader must never wait for an END that never comes.
      failure = e;
    } finally {
      offer(END);
    }
  }

  /** Hands a chunk over; false once closed (nobody reads any more). */
  private boolean offer(byte[] chunk) {
    try {
      while (!closed || chunk == END) {
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
      ended = current == END;
    }
    if (ended) {
      rethrow();
      return -1;
    }
    int n = Math.min(len, current.length - pos);
    System.arraycopy(current, pos, b, off, n);
    pos += n;
    return n;
  }

  /** The source's failure, on every read once the stream has ended with one. */
  private void rethrow() throws IOException {
    Throwable f = failure;
    if (f instanceof IOException io) {
      throw io;
    } else if (f instanceof RuntimeException re) {
      throw re;
    } else if (f instanceof Error err) {
      throw err;
    } else if (f != null) {
      throw new IOException(f);
    }
  }

  /**
   * Stops the read-ahead thread and waits for it, even when this thread is interrupted (a canceled
   * attempt, a worker shutting down): the caller may use or close the source only afterwards. The
   * wait is at most one read of the source; the interrupt is kept for the caller.
   */
  @Override
  public void close() {
    closed = true;
    chunks.clear();
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
        chunks.clear();
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
