package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/** Runs argv lists in pods through the fabric8 client's exec (the websocket protocol). */
public final class PodExec {

  /** Failure type for a pod command that exited non-zero; retryable unless the caller says. */
  public static final String POD_COMMAND_FAILED = "PodCommandFailed";

  private static final int CAPTURE_LIMIT = 1 << 20;

  /**
   * Bytes per stdin message. Each is one websocket message of one frame (the JDK client sends a
   * message whole) plus fabric8's channel byte. The API server reads messages of up to 32 MiB
   * (golang.org/x/net/websocket hybi.go, DefaultMaxPayloadBytes, which k8s.io/apimachinery's
   * wsstream serves exec with); the harness's mock server, Vert.x, refuses frames over 64 KiB
   * (HttpServerOptions.DEFAULT_MAX_WEBSOCKET_FRAME_SIZE, which fabric8's MockWebServer 8.0.0
   * keeps). 63 KiB fits both, and halves the messages of the 32 KiB before: each message waits for
   * the previous one to leave ({@link StdinPacer}).
   */
  private static final int STDIN_CHUNK = 63 * 1024;

  /** The exec ended without a readable exit status. */
  public static final int UNKNOWN_EXIT = -1;

  private final KubernetesClient client;

  public PodExec(KubernetesClient client) {
    this.client = client;
  }

  /** What a command printed and how it exited. */
  public record Result(int exitCode, String stdout, String stderr) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /** Runs a command and captures its output (up to 1 MiB each). */
  public Result run(String namespace, String pod, List<String> argv, Duration timeout) {
    LimitedBuffer out = new LimitedBuffer(CAPTURE_LIMIT);
    LimitedBuffer err = new LimitedBuffer(CAPTURE_LIMIT);
    int code = exec(namespace, pod, argv, out, err, timeout);
    return new Result(code, out.text(), err.text());
  }

  /** Runs a command that must succeed; its stdout. */
  public String check(String namespace, String pod, List<String> argv, Duration timeout) {
    Result r = run(namespace, pod, argv, timeout);
    if (!r.ok()) {
      throw ApplicationFailure.newFailure(
          "`"
              + String.join(" ", argv)
              + "` in pod "
              + namespace
              + "/"
              + pod
              + " exited "
              + r.exitCode()
              + ": "
              + tail(r.stderr().isBlank() ? r.stdout() : r.stderr()),
          POD_COMMAND_FAILED);
    }
    return r.stdout();
  }

  /**
   * Runs a command whose stdout goes to {@code sink} and whose stderr lines go to {@code
   * stderrLines}, both called on the calling thread, in the order the pod sent them. So the
   * callbacks may heartbeat (Temporal's activity context belongs to the activity's thread), and the
   * client keeps receiving while the caller writes and hashes: a bounded queue ({@link Handoff}, a
   * few MiB) lies between the two, so memory does not grow with the output.
   */
  public int stream(
      String namespace,
      String pod,
      List<String> argv,
      OutputStream sink,
      Consumer<String> stderrLines,
      Duration timeout) {
    Handoff handoff = new Handoff();
    PodResource resource = client.pods().inNamespace(namespace).withName(pod);
    long deadline = System.nanoTime() + timeout.toNanos();
    try (ExecWatch watch =
        resource
            .writingOutput(handoff.stdout())
            .writingError(new LineSplitter(handoff::line))
            .exec(argv.toArray(String[]::new))) {
      java.util.concurrent.CompletableFuture<Integer> exit = watch.exitCode();
      long started = System.nanoTime();
      while (true) {
        Object event = handoff.events.poll(100, TimeUnit.MILLISECONDS);
        Heartbeats.alive(PodCommands.describe(argv) + " in pod " + pod, started);
        if (event != null) {
          handoff.deliver(event, sink, stderrLines);
        } else if (exit.isDone()) {
          // The status comes after the output it ends; take what is still queued.
          while ((event = handoff.events.poll()) != null) {
            handoff.deliver(event, sink, stderrLines);
          }
          break;
        } else if (System.nanoTime() > deadline) {
          throw new TimeoutException();
        }
      }
      Integer code = exit.get();
      return code == null ? UNKNOWN_EXIT : code;
    } catch (ExecutionException
        | KubernetesClientException
        | TimeoutException
        | InterruptedException e) {
      throw failure(namespace, pod, argv, timeout, e);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } finally {
      handoff.close();
    }
  }

  /**
   * Runs a command whose stdout is bulk data (a file being copied out) and writes it to {@code
   * sink} on the calling thread, as the client receives it: fabric8's own input stream hands over
   * whole websocket messages and asks for more only as they are read, so memory stays bounded.
   * stderr is kept (up to 1 MiB) for the failure message.
   */
  @SuppressWarnings("try") // the keep-alive works by being open
  public Result download(
      String namespace, String pod, List<String> argv, OutputStream sink, Duration timeout) {
    LimitedBuffer err = new LimitedBuffer(CAPTURE_LIMIT);
    long deadline = System.nanoTime() + timeout.toNanos();
    try (ExecWatch watch =
        client
            .pods()
            .inNamespace(namespace)
            .withName(pod)
            .redirectingOutput()
            .writingError(err)
            .exec(argv.toArray(String[]::new))) {
      InputStream out = watch.getOutput();
      byte[] buf = new byte[DOWNLOAD_BUFFER];
      int n;
      long started = System.nanoTime();
      // While data flows the sink heartbeats the durable offset; while the stream is quiet (a slow
      // pod, a stalled stream) the keep-alive does, and closes the exec when the attempt is over.
      Integer code;
      try (AutoCloseable quiet =
          Heartbeats.keepAlive(PodCommands.describe(argv) + " in pod " + pod, watch::close)) {
        while ((n = out.read(buf)) >= 0) {
          sink.write(buf, 0, n);
          if (System.nanoTime() > deadline) {
            throw new TimeoutException();
          }
        }
        code = awaitExit(watch, argv, pod, deadline, started);
      } catch (IOException | TimeoutException | ExecutionException | InterruptedException e) {
        throw e;
      } catch (RuntimeException e) {
        throw e; // a cancel (ActivityCanceledException) stays a cancel
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      return new Result(code == null ? UNKNOWN_EXIT : code, "", err.text());
    } catch (ExecutionException
        | KubernetesClientException
        | TimeoutException
        | InterruptedException e) {
      throw failure(namespace, pod, argv, timeout, e);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static final int DOWNLOAD_BUFFER = 256 << 10;

  /**
   * Runs a command that reads exactly the bytes of {@code stdin} (such as {@code dd count=N}). The
   * bytes are written through the exec's stdin channel; the channel is not closed afterwards,
   * because the command ends by itself once it has its count.
   */
  @SuppressWarnings("try") // the keep-alive works by being open
  public Result feed(
      String namespace, String pod, List<String> argv, InputStream stdin, Duration timeout) {
    LimitedBuffer out = new LimitedBuffer(CAPTURE_LIMIT);
    LimitedBuffer err = new LimitedBuffer(CAPTURE_LIMIT);
    try (ExecWatch watch =
        client
            .pods()
            .inNamespace(namespace)
            .withName(pod)
            .redirectingInput(STDIN_CHUNK)
            .writingOutput(out)
            .writingError(err)
            .exec(argv.toArray(String[]::new))) {
      OutputStream in = watch.getInput();
      // One write is one websocket message: keep them well under API servers' frame limits.
      byte[] buf = new byte[STDIN_CHUNK];
      StdinPacer pacer = StdinPacer.of(watch);
      int n;
      // A pod that reads slowly holds the sends back (flow control): the keep-alive heartbeats
      // meanwhile, and closes the exec when the attempt is over.
      try (AutoCloseable beating =
          Heartbeats.keepAlive(PodCommands.describe(argv) + " in pod " + pod, watch::close)) {
        while ((n = stdin.read(buf)) >= 0 && send(in, buf, n, pacer)) {
          // sent
        }
      } catch (IOException e) {
        throw e;
      } catch (RuntimeException e) {
        throw e; // a cancel (ActivityCanceledException) stays a cancel
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      try {
        long started = System.nanoTime();
        Integer code = awaitExit(watch, argv, pod, started + timeout.toNanos(), started);
        return new Result(code == null ? UNKNOWN_EXIT : code, out.text(), err.text());
      } catch (ExecutionException e) {
        // The client failed to send after the command had ended; the status is lost, not bad.
        return new Result(UNKNOWN_EXIT, out.text(), err.text() + e.getMessage());
      }
    } catch (IOException | KubernetesClientException | TimeoutException | InterruptedException e) {
      throw failure(namespace, pod, argv, timeout, e);
    }
  }

  /**
   * Writes a small file in the pod: {@code <path>.part} through {@code dd}, its size checked, then
   * renamed over {@code path}, so a reader sees the old file or the whole new one. With a {@code
   * lock}, each command runs {@link PodCommands#fenced fenced} by it.
   */
  public void writeFile(String namespace, String pod, String path, byte[] bytes, String lock) {
    java.util.function.UnaryOperator<List<String>> f =
        argv -> lock == null ? argv : PodCommands.fenced(lock, argv);
    Duration shortWait = Duration.ofMinutes(2);
    String part = path + ".part";
    run(namespace, pod, f.apply(PodCommands.removeFile(part)), shortWait);
    Result w =
        feed(
            namespace,
            pod,
            f.apply(PodCommands.writeAt(part, 0, bytes.length)),
            new java.io.ByteArrayInputStream(bytes),
            shortWait);
    Result size = run(namespace, pod, PodCommands.size(part), shortWait);
    if (!size.ok() || Long.parseLong(size.stdout().strip()) != bytes.length) {
      throw ApplicationFailure.newFailure(
          "writing "
              + part
              + " in "
              + namespace
              + "/"
              + pod
              + " failed (exit "
              + w.exitCode()
              + "): "
              + w.stderr(),
          POD_COMMAND_FAILED);
    }
    check(namespace, pod, f.apply(PodCommands.move(part, path)), shortWait);
  }

  /**
   * Writes one chunk; false when the stream is closed. The command may have read its count and
   * exited, closing the stream under the last write: its exit status decides, and callers check
   * what arrived (SHA-256 in the pod).
   */
  private static boolean send(OutputStream in, byte[] buf, int n, StdinPacer pacer) {
    try {
      in.write(buf, 0, n);
      in.flush();
      // fabric8's JDK websocket refuses a send while the previous one is pending (StdinPacer).
      pacer.awaitSent();
      return true;
    } catch (IOException | KubernetesClientException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private int exec(
      String namespace,
      String pod,
      List<String> argv,
      OutputStream out,
      OutputStream err,
      Duration timeout) {
    PodResource resource = client.pods().inNamespace(namespace).withName(pod);
    try (ExecWatch watch =
        resource.writingOutput(out).writingError(err).exec(argv.toArray(String[]::new))) {
      long started = System.nanoTime();
      Integer code = awaitExit(watch, argv, pod, started + timeout.toNanos(), started);
      return code == null ? UNKNOWN_EXIT : code;
    } catch (ExecutionException
        | KubernetesClientException
        | TimeoutException
        | InterruptedException e) {
      throw failure(namespace, pod, argv, timeout, e);
    }
  }

  /**
   * Waits for the exit status in slices of {@link Heartbeats#SLICE}, heartbeating between them: a
   * long command never leaves its attempt silent, and a canceled or timed-out attempt learns it
   * from the heartbeat and closes the exec (its pod process is stopped by {@link PodFence} before a
   * retry acts).
   */
  private static Integer awaitExit(
      ExecWatch watch, List<String> argv, String pod, long deadline, long started)
      throws ExecutionException, InterruptedException, TimeoutException {
    java.util.concurrent.CompletableFuture<Integer> exit = watch.exitCode();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new TimeoutException();
      }
      try {
        return exit.get(Math.min(left, Heartbeats.SLICE.toNanos()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException slice) {
        Heartbeats.alive(PodCommands.describe(argv) + " in pod " + pod, started);
      }
    }
  }

  /** One retryable failure for an exec that did not run to an exit status. */
  private static ApplicationFailure failure(
      String namespace, String pod, List<String> argv, Duration timeout, Exception e) {
    String where = "`" + PodCommands.describe(argv) + "` in pod " + namespace + "/" + pod;
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return ApplicationFailure.newFailure("interrupted: " + where, POD_COMMAND_FAILED);
    }
    if (e instanceof TimeoutException) {
      return ApplicationFailure.newFailure(
          where + " did not finish within " + timeout, POD_COMMAND_FAILED);
    }
    return ApplicationFailure.newFailure(
        "exec " + where + " failed: " + e.getMessage(), POD_COMMAND_FAILED);
  }

  static String tail(String text) {
    String t = text.strip();
    return t.length() <= 2000 ? t : "..." + t.substring(t.length() - 2000);
  }
}
