package com.limepoint.opschain.dbupgrade.kube;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The bounded queue between fabric8's receiving threads and the caller: stdout in chunks of up to
 * {@value #QUEUE_CHUNK} bytes (copied, since the client reuses its buffers) and stderr lines.
 */
final class Handoff {
  private static final int QUEUE_BYTES = 4 << 20;
  private static final int QUEUE_CHUNK = 64 << 10;

  final java.util.concurrent.BlockingQueue<Object> events =
      new java.util.concurrent.ArrayBlockingQueue<>(QUEUE_BYTES / QUEUE_CHUNK);
  private volatile boolean closed;

  OutputStream stdout() {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        for (int at = off; at < off + len; at += QUEUE_CHUNK) {
          put(java.util.Arrays.copyOfRange(b, at, Math.min(off + len, at + QUEUE_CHUNK)));
        }
      }
    };
  }

  void line(String line) {
    try {
      put(line);
    } catch (IOException e) {
      // The caller has stopped listening.
    }
  }

  private void put(Object event) throws IOException {
    try {
      while (!events.offer(event, 100, TimeUnit.MILLISECONDS)) {
        if (closed) {
          throw new IOException("the reader of this exec stream has stopped");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  void deliver(Object event, OutputStream sink, Consumer<String> lines) throws IOException {
    if (event instanceof byte[] chunk) {
      sink.write(chunk, 0, chunk.length);
    } else {
      lines.accept((String) event);
    }
  }

  void close() {
    closed = true;
    events.clear();
  }
}
