package com.limepoint.opschain.dbupgrade.helm;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.temporal.failure.ApplicationFailure;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * The Helm process: one Helm operation, run by {@link HelmProcessReleases} in a JVM of its own. It
 * reads one {@link Request} as JSON on standard input, runs it on helm-java ({@link
 * HelmJavaReleases}), and prints one {@link Response} line after {@link #RESULT}. Anything else the
 * process prints (the JVM, JNA, Go) goes to standard error, or is ignored by the reader.
 *
 * <p>Why a process: helm-java is the real Helm compiled into a Go shared library. Once loaded it
 * stays for the life of the JVM (a Go runtime cannot be unloaded): about 50 MiB of library pages
 * and the Go heap, in a worker that calls Helm a few times per upgrade. In the worker's own JVM, Go
 * also takes SIGTERM and SIGQUIT from the JVM (see {@link
 * HelmJavaReleases#keepingShutdownSignals}).
 */
public final class HelmMain {

  /** What the result line starts with. */
  public static final String RESULT = "opschain-helm-result ";

  /** One operation: {@code history}, {@code upgrade} or {@code render}. */
  public record Request(
      String operation,
      String kubeconfig,
      String namespace,
      String release,
      HelmCall call,
      String kubeContext) {

    public Request(
        String operation, String kubeconfig, String namespace, String release, HelmCall call) {
      this(operation, kubeconfig, namespace, release, call, null);
    }
  }

  /** What a failed operation threw: an ApplicationFailure's type, or null for any other error. */
  public record Failure(String message, String type, boolean nonRetryable) {}

  /** Exactly one of the fields is set. */
  public record Response(
      List<HelmReleases.Revision> history,
      HelmReleases.Revision revision,
      String manifest,
      Failure failure) {}

  private HelmMain() {}

  public static void main(String[] args) throws Exception {
    PrintStream out = System.out;
    System.setOut(System.err);
    ObjectMapper json = new ObjectMapper();
    Response response;
    try {
      response = run(json.readValue(System.in, Request.class));
    } catch (ApplicationFailure f) {
      response =
          new Response(
              null,
              null,
              null,
              new Failure(f.getOriginalMessage(), f.getType(), f.isNonRetryable()));
    } catch (RuntimeException e) {
      response =
          new Response(null, null, null, new Failure(String.valueOf(e.getMessage()), null, false));
    }
    out.println(RESULT + json.writeValueAsString(response));
    out.flush();
    // Runs the shutdown hooks: helm-java deletes the library it unpacked.
    System.exit(0);
  }

  static Response run(Request r) {
    HelmJavaReleases helm =
        new HelmJavaReleases(
            r.kubeconfig() == null ? null : Path.of(r.kubeconfig()), r.kubeContext());
    return switch (r.operation()) {
      case "history" -> new Response(helm.history(r.namespace(), r.release()), null, null, null);
      case "upgrade" -> new Response(null, helm.upgrade(r.call()), null, null);
      case "render" -> new Response(null, null, helm.render(r.call()), null);
      default -> throw new IllegalArgumentException("unknown Helm operation " + r.operation());
    };
  }
}
