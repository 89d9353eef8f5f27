package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.http.WebSocket;
import java.lang.reflect.Field;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Paces writes to an exec's stdin. The JDK's {@code java.net.http.WebSocket} allows one send at a
 * time ("At most one send operation may be outstanding at any given time", its javadoc), and
 * fabric8's {@code JdkWebSocketImpl.send} (8.0.0) turns an overlapping send into a failed exec
 * ("could not send") instead of queueing it. fabric8 counts the bytes of the sends still in flight
 * ({@code WebSocket.queueSize()}, public API) but keeps the socket in a private field of its {@code
 * ExecWebSocketListener} ({@code webSocketRef}). Where that field is readable, the next chunk goes
 * as soon as the previous one has left (the queue is empty); where it is not (a different fabric8),
 * a fixed 1 ms pause per chunk, which measured 28 MB/s on the harness.
 */
final class StdinPacer {
  private static final long POLL_NANOS = 20_000;
  private static final long MAX_WAIT_NANOS = 30_000_000_000L;

  private final WebSocket socket;

  private StdinPacer(WebSocket socket) {
    this.socket = socket;
  }

  /** The pacer for this exec. */
  static StdinPacer of(ExecWatch watch) {
    return new StdinPacer(socketOf(watch));
  }

  /** True when sends are paced by the queue, false when by the fixed pause. */
  boolean tracksQueue() {
    return socket != null;
  }

  /** Returns once the previous chunk has been handed to the network (or the fallback pause). */
  void awaitSent() throws InterruptedException {
    if (socket == null) {
      Thread.sleep(1);
      return;
    }
    long deadline = System.nanoTime() + MAX_WAIT_NANOS;
    while (socket.queueSize() > 0 && System.nanoTime() < deadline) {
      LockSupport.parkNanos(POLL_NANOS);
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
    }
  }

  private static WebSocket socketOf(ExecWatch watch) {
    try {
      Field f = watch.getClass().getDeclaredField("webSocketRef");
      f.setAccessible(true);
      if (f.get(watch) instanceof AtomicReference<?> ref && ref.get() instanceof WebSocket ws) {
        return ws;
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // a fabric8 without the field, or a module that refuses access: the fixed pause
    }
    return null;
  }
}
