package com.limepoint.opschain.dbupgrade.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * An exec's stdin on the harness's API server, written to the process by a thread of its own: the
 * server's event loop only queues. A kubelet likewise never lets one stuck process (a stopped
 * {@code dd} whose pipe is full) hold up the API server; writing on the event loop would stall
 * every other request.
 *
 * <p>Flow control as the API server's: its websocket reader ({@code
 * k8s.io/apimachinery/pkg/util/httpstream/wsstream/conn.go}, {@code Conn.handle}) reads one
 * message, then writes it into the channel's {@code io.Pipe}, which blocks until the process side
 * has taken it; no next message is read meanwhile, so a slow process pushes back through TCP to the
 * client. Here the socket is paused while more than {@link #HIGH} bytes wait for the process, and
 * resumed below {@link #LOW}.
 */
final class ExecStdin {
  private static final long HIGH = 4L << 20;
  private static final long LOW = 1L << 20;
  private static final byte[] END = new byte[0];

  private final LinkedBlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
  private final AtomicLong queued = new AtomicLong();
  private volatile io.vertx.core.http.ServerWebSocket socket;
  private volatile boolean held;
  private volatile io.vertx.core.Context context;

  /** The socket to pause and resume; null (a mock without one): no flow control. */
  void flowControl(io.vertx.core.http.ServerWebSocket s) {
    socket = s;
  }

  /** Bytes from the client, for the process. */
  void add(byte[] bytes) {
    if (context == null) {
      context = io.vertx.core.Vertx.currentContext();
    }
    queue.add(bytes);
    waiting(bytes.length);
  }

  /** The client closed stdin (or went away). */
  void end() {
    queue.add(END);
  }

  /**
   * Feeds queued stdin to {@code process} until it ends or stdin is closed; nothing is delivered
   * while {@code paused} (a command stopped by a fault).
   */
  void pump(Process process, BooleanSupplier paused) {
    OutputStream in = process.getOutputStream();
    try {
      while (true) {
        boolean stopped = paused.getAsBoolean();
        byte[] chunk = stopped ? null : queue.poll(100, TimeUnit.MILLISECONDS);
        if (stopped) {
          Thread.sleep(100);
        }
        if (chunk == null) {
          if (!process.isAlive()) {
            return;
          }
          continue;
        }
        if (chunk == END) {
          in.close();
          return;
        }
        in.write(chunk);
        in.flush();
        taken(chunk.length);
      }
    } catch (IOException | InterruptedException e) {
      // The process has exited and closed its stdin: what is left is not needed.
    } finally {
      taken(Long.MAX_VALUE / 2);
    }
  }

  /** {@code n} more bytes wait for the process: reading pauses while too many wait. */
  private void waiting(long n) {
    boolean pause;
    synchronized (this) {
      pause = queued.addAndGet(n) > HIGH && socket != null && !held;
      held |= pause;
    }
    if (pause) {
      onLoop();
    }
  }

  /** The process took {@code n} bytes: reading resumes once the queue is low again. */
  private void taken(long n) {
    boolean resume;
    synchronized (this) {
      resume = queued.addAndGet(-n) < LOW && held;
      held &= !resume;
    }
    if (resume) {
      onLoop();
    }
  }

  /**
   * Brings the socket to what {@code held} says now, on the socket's own event loop, never under
   * this object's lock: Vert.x delivers messages (and so {@link #add}) holding the socket's, so a
   * pause or resume from the pump thread under ours could deadlock the server. On the loop a pause
   * also comes after the mock's {@code fetch(1)} that follows each message
   * (ServerWebSocketHandler.configureWebSocket).
   */
  private void onLoop() {
    io.vertx.core.Context c = context;
    if (c == null) {
      apply();
    } else {
      c.runOnContext(v -> apply());
    }
  }

  private void apply() {
    if (held) {
      socket.pause();
    } else {
      socket.resume();
    }
  }
}
