package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.temporal.failure.ApplicationFailure;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
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
  private static final int STDIN_CHUNK = 32 * 1024;

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
          "`" + String.join(" ", argv) + "` in pod " + namespace + "/" + pod + " exited " + r.exitCode()
              + ": " + tail(r.stderr().isBlank() ? r.stdout() : r.stderr()),
          POD_COMMAND_FAILED);
    }
    return r.stdout();
  }

  /** Runs a command whose stdout goes to {@code sink}; stderr lines go to {@code stderrLines}. */
  public int stream(
      String namespace, String pod, List<String> argv, OutputStream sink, Consumer<String> stderrLines, Duration timeout) {
    return exec(namespace, pod, argv, sink, new LineSplitter(stderrLines), timeout);
  }

  /**
   * Runs a command that reads exactly the bytes of {@code stdin} (such as {@code dd count=N}). The
   * bytes are written through the exec's stdin channel; the channel is not closed afterwards,
   * because the command ends by itself once it has its count.
   */
  public Result feed(String namespace, String pod, List<String> argv, InputStream stdin, Duration timeout) {
    LimitedBuffer out = new LimitedBuffer(CAPTURE_LIMIT);
    LimitedBuffer err = new LimitedBuffer(CAPTURE_LIMIT);
    try (ExecWatch watch =
        client.pods().inNamespace(namespace).withName(pod)
            .redirectingInput(STDIN_CHUNK)
            .writingOutput(out)
            .writingError(err)
            .exec(argv.toArray(String[]::new))) {
      OutputStream in = watch.getInput();
      // One write is one websocket message: keep them well under API servers' frame limits.
      byte[] buf = new byte[STDIN_CHUNK];
      int n;
      while ((n = stdin.read(buf)) >= 0 && send(in, buf, n)) {
        // sent
      }
      try {
        Integer code = watch.exitCode().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
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
   * Writes one chunk; false when the stream is closed. The command may have read its count and
   * exited, closing the stream under the last write: its exit status decides, and callers check
   * what arrived (SHA-256 in the pod).
   */
  private static boolean send(OutputStream in, byte[] buf, int n) {
    try {
      in.write(buf, 0, n);
      in.flush();
      // fabric8's JDK websocket refuses a send while the previous one is pending; a short pause
      // per chunk makes that rare (the caller resumes from the pod-side size when it happens).
      Thread.sleep(1);
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
    try (ExecWatch watch = resource.writingOutput(out).writingError(err).exec(argv.toArray(String[]::new))) {
      Integer code = watch.exitCode().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return code == null ? UNKNOWN_EXIT : code;
    } catch (ExecutionException | KubernetesClientException | TimeoutException | InterruptedException e) {
      throw failure(namespace, pod, argv, timeout, e);
    }
  }

  /** One retryable failure for an exec that did not run to an exit status. */
  private static ApplicationFailure failure(
      String namespace, String pod, List<String> argv, Duration timeout, Exception e) {
    String where = "`" + argv.get(0) + "` in pod " + namespace + "/" + pod;
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return ApplicationFailure.newFailure("interrupted: " + where, POD_COMMAND_FAILED);
    }
    if (e instanceof TimeoutException) {
      return ApplicationFailure.newFailure(where + " did not finish within " + timeout, POD_COMMAND_FAILED);
    }
    return ApplicationFailure.newFailure("exec " + where + " failed: " + e.getMessage(), POD_COMMAND_FAILED);
  }

  static String tail(String text) {
    String t = text.strip();
    return t.length() <= 2000 ? t : "..." + t.substring(t.length() - 2000);
  }

  /** Captures output up to a limit, keeping the start. */
  private static final class LimitedBuffer extends OutputStream {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final int limit;

    LimitedBuffer(int limit) {
      this.limit = limit;
    }

    @Override
    public synchronized void write(int b) {
      if (buf.size() < limit) {
        buf.write(b);
      }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
      int n = Math.min(len, limit - buf.size());
      if (n > 0) {
        buf.write(b, off, n);
      }
    }

    synchronized String text() {
      return buf.toString(StandardCharsets.UTF_8);
    }
  }

  /** Splits a byte stream into lines at \n or \r (pg_basebackup -P redraws with \r). */
  static final class LineSplitter extends OutputStream {
    private final Consumer<String> lines;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    LineSplitter(Consumer<String> lines) {
      this.lines = lines;
    }

    @Override
    public synchronized void write(int b) throws IOException {
      if (b == '\n' || b == '\r') {
        if (line.size() > 0) {
          lines.accept(line.toString(StandardCharsets.UTF_8));
          line.reset();
        }
      } else if (line.size() < 8192) {
        line.write(b);
      }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      for (int i = off; i < off + len; i++) {
        write(b[i]);
      }
    }
  }

  /** Keeps the last lines of a log, for heartbeats and failure messages. */
  public static final class LogTail implements Consumer<String> {
    private final int max;
    private final List<String> lines = new ArrayList<>();

    public LogTail(int max) {
      this.max = max;
    }

    @Override
    public synchronized void accept(String line) {
      lines.add(line);
      if (lines.size() > max) {
        lines.remove(0);
      }
    }

    public synchronized List<String> lines() {
      return List.copyOf(lines);
    }
  }
}
