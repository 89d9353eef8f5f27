package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.mockwebserver.http.ByteString;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pod exec, served as Kubernetes serves it: a websocket whose binary frames carry a channel
 * byte (0 stdin, 1 stdout, 2 stderr, 3 status; 255 closes a channel in protocol v5), running a real
 * local process. The fabric8 client's own exec code talks to it unchanged.
 */
final class ExecBridge extends WebSocketListener {
  private static final Logger log = LoggerFactory.getLogger(ExecBridge.class);

  /**
   * The largest exec message: the channel byte and the data fill exactly one websocket frame of
   * Vert.x's default 64 KiB limit. One byte more and every message goes out as two frames, which
   * the client has to reassemble (a copy per message).
   */
  private static final int FRAME = 64 * 1024;

  private final PodRuntime pod;
  private final List<String> command;
  private final long cutStdoutAfter;
  private final ExecFault fault;
  private final PodCommand record;
  private final List<java.util.function.Consumer<List<String>>> after;
  private volatile Process process;

  ExecBridge(
      PodRuntime pod,
      List<String> command,
      long cutStdoutAfter,
      ExecFault fault,
      PodCommand record,
      List<java.util.function.Consumer<List<String>>> after) {
    this.after = List.copyOf(after);
    this.pod = pod;
    this.command = List.copyOf(command);
    this.cutStdoutAfter = cutStdoutAfter;
    this.fault = fault;
    this.record = record;
  }

  /** The argv of an exec request: every {@code command=} query parameter, in order. */
  static List<String> command(String path) {
    int q = path.indexOf('?');
    List<String> argv = new ArrayList<>();
    if (q < 0) {
      return argv;
    }
    for (String part : path.substring(q + 1).split("&")) {
      int eq = part.indexOf('=');
      if (eq > 0 && part.substring(0, eq).equals("command")) {
        argv.add(URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return argv;
  }

  @Override
  public void onOpen(WebSocket ws, Response response) {
    stdin.flowControl(Sender.vertxSocket(ws));
    Thread.ofPlatform().daemon().name("exec-" + pod.name()).start(() -> run(ws));
  }

  private void run(WebSocket ws) {
    int code = -1;
    try {
      code = runProcess(ws);
    } finally {
      record.ended(code);
    }
  }

  /** Runs the command; its exit code, or -1 when it reported none. */
  private int runProcess(WebSocket ws) {
    List<String> argv = pod.translate(command);
    try {
      if (fault != null && fault.delay().toMillis() > 0) {
        Thread.sleep(fault.delay().toMillis());
      }
      if (pod.image() != null
          && !ClusterInABox.RESTORE_IMAGE.equals(pod.image())
          && PodRuntime.unfenced(command).equals(List.of("postgres", "--version"))
          && ImageVersions.postgresVersion(pod.image()) instanceof ImageVersions.Printed printed) {
        // A pod of another image: its postgres prints that image's version (ImageVersions).
        ws.send(frame(1, (printed.line() + "\n").getBytes(StandardCharsets.UTF_8)));
        ws.send(status(0));
        ws.close(1000, "");
        return 0;
      }
      if (pod.postgresPort() == SimulatedPostgres.PORT) {
        var simulated = SimulatedPostgres.run(PodRuntime.unfenced(command));
        if (simulated.isPresent()) {
          SimulatedPostgres.Result r = simulated.get();
          if (r.stderr().length > 0) {
            ws.send(frame(2, r.stderr()));
          }
          if (r.stdout().length > 0) {
            ws.send(frame(1, r.stdout()));
          }
          ws.send(status(r.exitCode()));
          ws.close(1000, "");
          return r.exitCode();
        }
      }
      ProcessBuilder pb = new ProcessBuilder(argv);
      pb.environment().putAll(pod.environment());
      process = pb.start();
      if (fault != null && fault.pauseAfter() != null) {
        stopLater(process.toHandle(), fault, () -> paused = true);
      }
      Process started = process;
      Thread.ofVirtual()
          .name("exec-stdin-" + pod.name())
          .start(() -> stdin.pump(started, () -> paused));
      AtomicLong sent = new AtomicLong();
      Thread err =
          Thread.ofVirtual()
              .start(() -> pump(process.getErrorStream(), ws, 2, Long.MAX_VALUE, new AtomicLong()));
      boolean cut = pump(process.getInputStream(), ws, 1, cutStdoutAfter, sent);
      if (cut) {
        // The known `kubectl cp` failure: the stream ends early, yet the exit status says success.
        process.destroyForcibly();
        log.info("fault: cut stdout of {} after {} bytes, reporting success", argv, sent.get());
        ws.send(status(0));
        ws.close(1000, "");
        return 0;
      }
      int code = process.waitFor();
      err.join();
      after.forEach(a -> a.accept(command));
      ws.send(status(code));
      ws.close(1000, "");
      return code;
    } catch (IOException | InterruptedException e) {
      log.warn("exec {} failed: {}", argv, e.toString());
      ws.send(
          frame(
              3,
              ("{\"metadata\":{},\"status\":\"Failure\",\"message\":\""
                      + e.getMessage().replace('"', '\'')
                      + "\"}")
                  .getBytes(StandardCharsets.UTF_8)));
      ws.close(1000, "");
      return -1;
    }
  }

  /**
   * Stops the process (its whole group, when it leads one, as a {@code setsid} command does) after
   * {@code millis}: a command that has done part of its work and hangs, as on a stuck disk.
   */
  static void stopLater(ProcessHandle p, ExecFault fault, Runnable stopping) {
    long millis = fault.pauseAfter().toMillis();
    Thread.ofVirtual()
        .start(() -> {
          try {
            Thread.sleep(millis);
            stopping.run();
            // A fenced command leads its own group once setsid has run and exec'd flock.
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (p.isAlive()
                && p.info().command().orElse("").endsWith("setsid")
                && p.children().findAny().isEmpty()
                && System.nanoTime() < deadline) {
              Thread.sleep(5);
            }
            if (!p.isAlive()) {
              return;
            }
            // setsid(1) forks only when it already leads a group; the group is then its child's.
            String cmd = p.info().command().orElse("");
            long leader =
                cmd.endsWith("setsid")
                    ? p.children().findFirst().map(ProcessHandle::pid).orElse(p.pid())
                    : p.pid();
            String target =
                cmd.endsWith("flock") || cmd.endsWith("setsid")
                    ? "-" + leader
                    : Long.toString(p.pid());
            int killed =
                new ProcessBuilder("kill", "-s", "STOP", "--", target)
                    .redirectErrorStream(true)
                    .start()
                    .waitFor();
            if (killed == 0 && p.isAlive()) {
              fault.paused();
            }
            log.info("fault: stopped {} (SIGSTOP) after {} ms", target, millis);
          } catch (IOException | InterruptedException e) {
            log.warn("could not pause {}: {}", p.pid(), e.toString());
          }
        });
  }

  /** Set when the command is paused: from then on none of its stdin is delivered. */
  private volatile boolean paused;

  /**
   * Copies a process stream to one channel, one message per read (topped up with what the pipe
   * already holds, so a bulk stream goes in full frames); returns true when cut at {@code limit}.
   */
  private static boolean pump(
      InputStream in, WebSocket ws, int channel, long limit, AtomicLong sent) {
    byte[] buf = new byte[FRAME];
    buf[0] = (byte) channel;
    Sender out = new Sender(ws);
    try {
      while (true) {
        int max = (int) Math.min(FRAME - 1, limit - sent.get());
        if (max <= 0) {
          return true;
        }
        int n = in.read(buf, 1, max);
        if (n < 0) {
          return false;
        }
        while (n < max && in.available() > 0) {
          int more = in.read(buf, 1 + n, max - n);
          if (more < 0) {
            break;
          }
          n += more;
        }
        out.send(Arrays.copyOf(buf, n + 1));
        sent.addAndGet(n);
      }
    } catch (IOException e) {
      return false;
    } finally {
      out.drain();
    }
  }

  /**
   * Sends a channel's messages in order with up to {@value #IN_FLIGHT} of them queued on the
   * server's event loop, as a kubelet streams: the mock's own {@code send} waits for each write to
   * reach the socket before the process may be read again, so the pipe and the socket would take
   * turns. The mock does not expose its Vert.x websocket, so it is taken from the field that holds
   * it; if a later mock version has no such field, messages go through the waiting {@code send}.
   */
  private static final class Sender {
    private static final int IN_FLIGHT = 8;
    private static final java.lang.reflect.Field VERTX_SOCKET = vertxSocketField();

    private final WebSocket ws;
    private final io.vertx.core.http.ServerWebSocket socket;
    private final java.util.concurrent.Semaphore slots =
        new java.util.concurrent.Semaphore(IN_FLIGHT);

    Sender(WebSocket ws) {
      this.ws = ws;
      io.vertx.core.http.ServerWebSocket s = null;
      if (VERTX_SOCKET != null && VERTX_SOCKET.getDeclaringClass().isInstance(ws)) {
        try {
          s = (io.vertx.core.http.ServerWebSocket) VERTX_SOCKET.get(ws);
        } catch (IllegalAccessException e) {
          s = null;
        }
      }
      this.socket = s;
    }

    /** The Vert.x socket behind a mock websocket, or null (then no flow control). */
    static io.vertx.core.http.ServerWebSocket vertxSocket(WebSocket ws) {
      return new Sender(ws).socket;
    }

    private static java.lang.reflect.Field vertxSocketField() {
      try {
        java.lang.reflect.Field f =
            Class.forName("io.fabric8.mockwebserver.vertx.VertxMockWebSocket")
                .getDeclaredField("webSocket");
        f.setAccessible(true);
        return io.vertx.core.http.ServerWebSocket.class.isAssignableFrom(f.getType()) ? f : null;
      } catch (ReflectiveOperationException | RuntimeException e) {
        log.warn("exec output goes through the mock's waiting send: {}", e.toString());
        return null;
      }
    }

    void send(byte[] message) {
      if (socket == null) {
        ws.send(message);
        return;
      }
      slots.acquireUninterruptibly();
      socket
          .writeBinaryMessage(io.vertx.core.buffer.Buffer.buffer(message))
          .onComplete(done -> slots.release());
    }

    /** Waits until every queued message has been written (the status must come after them). */
    void drain() {
      if (socket != null) {
        slots.acquireUninterruptibly(IN_FLIGHT);
        slots.release(IN_FLIGHT);
      }
    }
  }

  /**
   * The mock server still delivers binary frames (the exec channels) through this deprecated
   * overload, whose default decodes them as UTF-8 text: the override keeps them bytes.
   */
  @Override
  @SuppressWarnings("deprecation")
  public void onMessage(WebSocket ws, ByteString bytes) {
    onMessage(ws, bytes.toByteArray());
  }

  /** Stdin for the process, with the API server's flow control (see {@link ExecStdin}). */
  private final ExecStdin stdin = new ExecStdin();

  @Override
  public void onMessage(WebSocket ws, byte[] bytes) {
    if (bytes.length == 0) {
      return;
    }
    if (bytes[0] == 0 && bytes.length > 1) {
      stdin.add(Arrays.copyOfRange(bytes, 1, bytes.length));
    } else if ((bytes[0] & 0xff) == 255 && bytes.length > 1 && bytes[1] == 0) {
      stdin.end();
    }
  }

  /**
   * The client went away: its stdin ends, but the process is not killed. That is what Kubernetes
   * does: a process started by exec outlives the connection (kubernetes/kubernetes#89031,
   * kubernetes/kubectl#1076; runc forwards no signal when the remote client disconnects,
   * opencontainers/runc#3359).
   */
  @Override
  public void onClosed(WebSocket ws, int code, String reason) {
    stdin.end();
  }

  static byte[] status(int exitCode) {
    String json =
        exitCode == 0
            ? "{\"metadata\":{},\"status\":\"Success\"}"
            : "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit code\","
                + "\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\""
                + exitCode
                + "\"}]}}";
    return frame(3, json.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] frame(int channel, byte[] data) {
    byte[] out = new byte[data.length + 1];
    out[0] = (byte) channel;
    System.arraycopy(data, 0, out, 1, data.length);
    return out;
  }
}
