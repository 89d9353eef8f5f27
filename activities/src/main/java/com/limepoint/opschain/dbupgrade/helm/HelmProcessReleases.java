package com.limepoint.opschain.dbupgrade.helm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.limepoint.opschain.dbupgrade.helm.HelmMain.Request;
import com.limepoint.opschain.dbupgrade.helm.HelmMain.Response;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@link HelmReleases} with each Helm operation in a short-lived JVM of its own ({@link HelmMain}),
 * on the worker's own class path: the worker never loads Helm's Go runtime, so it keeps its memory
 * (about 55 MiB less after an upgrade) and its signals (SIGTERM stops it, SIGQUIT dumps threads).
 * An operation costs a JVM start and unpacking helm-java's library (about 0.8 s for a render), in a
 * temporary directory of the call's own that is deleted when the call ends, whether it succeeded or
 * failed.
 *
 * <p>The request goes to the process on standard input (argv, visible in {@code ps}, carries only
 * the JVM's options); the process inherits the worker's environment (Helm reads {@code HELM_*},
 * {@code KUBECONFIG} and {@code HOME}) except the worker's own settings and secrets.
 */
public class HelmProcessReleases implements HelmReleases {
  /** The Helm process's JVM: small heap, quick start; Helm's own memory is outside the heap. */
  static final List<String> JVM_OPTIONS =
      List.of(
          "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1",
          "-Xmx128m",
          "-XX:+ExitOnOutOfMemoryError",
          "-XX:-UsePerfData",
          "--enable-native-access=ALL-UNNAMED");

  private static final int STDERR_TAIL = 4096;

  private final Path kubeconfig;
  private final String kubeContext;
  private final List<String> java;
  private final Path tmp;
  private final HelmSlots slots;
  private final ObjectMapper json = new ObjectMapper();

  /** Runs Helm with this JVM's {@code java} and class path. */
  public HelmProcessReleases(Path kubeconfig) {
    this(kubeconfig, null);
  }

  /**
   * @param kubeContext the worker's kubeconfig context: Helm gets the same one as fabric8 (null:
   *     the kubeconfig's current context)
   */
  public HelmProcessReleases(Path kubeconfig, String kubeContext) {
    this(kubeconfig, kubeContext, new HelmSlots(HelmSlots.defaultFor(HelmSlots.memoryLimit())));
  }

  /**
   * @param slots how many Helm processes may run at once (the worker's {@code helm-processes})
   */
  public HelmProcessReleases(Path kubeconfig, String kubeContext, HelmSlots slots) {
    this(
        kubeconfig,
        kubeContext,
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp",
            System.getProperty("java.class.path")),
        Path.of(System.getProperty("java.io.tmpdir")),
        slots);
  }

  /**
   * {@code java} is the command up to the main class (the launcher and its class path); each call's
   * directory is made in {@code tmp}.
   */
  HelmProcessReleases(Path kubeconfig, List<String> java, Path tmp) {
    this(kubeconfig, null, java, tmp);
  }

  HelmProcessReleases(Path kubeconfig, String kubeContext, List<String> java, Path tmp) {
    this(kubeconfig, kubeContext, java, tmp, new HelmSlots(HelmSlots.MAX_DEFAULT));
  }

  HelmProcessReleases(
      Path kubeconfig, String kubeContext, List<String> java, Path tmp, HelmSlots slots) {
    this.kubeconfig = kubeconfig;
    this.kubeContext = kubeContext;
    this.java = List.copyOf(java);
    this.tmp = tmp;
    this.slots = slots;
  }

  /** The bound on Helm processes this runs under. */
  public HelmSlots slots() {
    return slots;
  }

  @Override
  public List<Revision> history(String namespace, String release) {
    return run(new Request("history", kubeconfig(), namespace, release, null, kubeContext))
        .history();
  }

  @Override
  public Revision upgrade(HelmCall call) {
    return run(new Request(
            "upgrade", kubeconfig(), call.namespace(), call.release(), call, kubeContext))
        .revision();
  }

  @Override
  public Revision rollback(String namespace, String release, int toRevision, String description) {
    throw HelmJavaReleases.noRollback(namespace, release, toRevision);
  }

  @Override
  public String render(HelmCall call) {
    return run(new Request(
            "render", kubeconfig(), call.namespace(), call.release(), call, kubeContext))
        .manifest();
  }

  private String kubeconfig() {
    return kubeconfig == null ? null : kubeconfig.toAbsolutePath().toString();
  }

  /**
   * Runs one request in a Helm process, once one of the {@link HelmSlots} is free; its failure is
   * thrown here as Helm threw it there.
   */
  Response run(Request request) {
    return slots.run(
        request.operation() + " " + request.namespace() + "/" + request.release(),
        () -> runProcess(request));
  }

  private Response runProcess(Request request) {
    Path dir = null;
    Process p = null;
    try {
      dir = Files.createTempDirectory(tmp, "opschain-helm-");
      Path stderr = dir.resolve("stderr");
      List<String> cmd = new ArrayList<>(java.subList(0, 1));
      cmd.addAll(JVM_OPTIONS);
      cmd.add("-Djava.io.tmpdir=" + dir);
      cmd.addAll(java.subList(1, java.size()));
      cmd.add(HelmMain.class.getName());
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(stderr.toFile());
      helmEnvironment(pb.environment());
      p = pb.start();
      try (OutputStream in = p.getOutputStream()) {
        json.writeValue(in, request);
      } catch (IOException e) {
        // The process ended before it read the request: its missing result and stderr say why.
      }
      String result = resultLine(p);
      int exit = p.waitFor();
      if (result == null) {
        throw ApplicationFailure.newFailure(
            "the Helm process for "
                + request.operation()
                + " "
                + request.namespace()
                + "/"
                + request.release()
                + " exited with "
                + exit
                + " and no result: "
                + tail(stderr),
            FailureTypes.HELM_FAILED);
      }
      return succeeded(json.readValue(result, Response.class));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run the Helm process", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure(
          "interrupted while Helm ran " + request.operation(), FailureTypes.HELM_FAILED);
    } finally {
      stop(p);
      delete(dir);
    }
  }

  /** The last result line the Helm process printed on stdout; null when it printed none. */
  private static String resultLine(Process p) throws IOException {
    String result = null;
    try (InputStream out = p.getInputStream()) {
      for (String line : new String(out.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.startsWith(HelmMain.RESULT)) {
          result = line.substring(HelmMain.RESULT.length());
        }
      }
    }
    return result;
  }

  /** The response when Helm succeeded; its failure, thrown here as Helm threw it, when not. */
  private static Response succeeded(Response response) {
    HelmMain.Failure f = response.failure();
    if (f == null) {
      return response;
    }
    if (f.type() == null) {
      throw new IllegalStateException(f.message());
    }
    throw f.nonRetryable()
        ? ApplicationFailure.newNonRetryableFailure(f.message(), f.type())
        : ApplicationFailure.newFailure(f.message(), f.type());
  }

  /**
   * The worker's environment without what Helm has no use for: the worker's own settings ({@code
   * OPSCHAIN_*}, {@code TEMPORAL_*}: an API key among them) and the JVM option variables meant for
   * the worker's JVM.
   */
  static void helmEnvironment(Map<String, String> env) {
    env.keySet()
        .removeIf(k ->
            k.startsWith("OPSCHAIN_")
                || k.startsWith("TEMPORAL_")
                || k.equals("JAVA_TOOL_OPTIONS")
                || k.equals("JDK_JAVA_OPTIONS"));
  }

  /** Ends the process if it still runs: SIGTERM (it deletes its files), then SIGKILL. */
  private static void stop(Process p) {
    if (p == null || !p.isAlive()) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static String tail(Path file) {
    try {
      String s = Files.readString(file);
      return s.length() <= STDERR_TAIL
          ? s.strip()
          : "…" + s.substring(s.length() - STDERR_TAIL).strip();
    } catch (IOException e) {
      return "(no standard error: " + e.getMessage() + ")";
    }
  }

  private static void delete(Path dir) {
    if (dir == null) {
      return;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // A temporary directory left behind is not worth failing the call.
    }
  }
}
