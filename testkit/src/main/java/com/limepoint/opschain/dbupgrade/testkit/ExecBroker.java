package com.limepoint.opschain.dbupgrade.testkit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The real control plane's exec path, on the harness's side. kwok runs every pod's {@code exec}
 * through {@code tools/kube/exec-wrapper} (tools/kube/kwok-exec.patch, change 3), which asks this
 * broker, on a loopback port, what the pod would run: the broker answers with the argv mapped by
 * the pod's {@link PodRuntime} (its PostgreSQL port, its emptyDir volumes, its user), the pod's
 * environment, and the faults a test set. The command's bytes go between kwok and the process; none
 * pass through this JVM. The wrapper reports the command's pid and its end, so the harness records
 * each {@link PodCommand} and can stop a process (SIGSTOP) as {@link ExecBridge} does on the mock
 * API server.
 *
 * <p>A pod nobody bound runs its command as given, in kwok's working directory.
 */
public final class ExecBroker implements ExecBindings, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ExecBroker.class);

  private final HttpServer server;
  private final ObjectMapper json = JsonMapper.builder().build();
  private final List<Binding> bindings = new CopyOnWriteArrayList<>();
  private final List<PodCommand> commands = new CopyOnWriteArrayList<>();
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  private final List<ExecFault> faults = new CopyOnWriteArrayList<>();
  private final List<Cut> cuts = new CopyOnWriteArrayList<>();
  private final List<After> afters = new CopyOnWriteArrayList<>();
  private final AtomicLong ids = new AtomicLong();

  /** Pods whose name matches {@code pod} in {@code namespace} run as {@code runtime} says. */
  private record Binding(String namespace, Pattern pod, PodRuntime runtime) {}

  private record Running(PodCommand command, ExecFault fault) {}

  /** The {@code nth} exec whose command line matches loses its stdout after {@code bytes}. */
  private record Cut(Pattern regex, AtomicLong left, long bytes) {}

  private record After(Pattern regex, Consumer<List<String>> effect) {}

  public ExecBroker() {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    server.createContext("/plan", ex -> answer(ex, this::plan));
    server.createContext("/started", ex -> answer(ex, this::started));
    server.createContext("/ended", ex -> answer(ex, this::ended));
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.start();
  }

  /** The URL the wrapper reaches this broker at ({@code KWOK_EXEC_BROKER}). */
  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void bindPod(String namespace, PodRuntime runtime) {
    bindings.addFirst(
        new Binding(namespace, Pattern.compile(Pattern.quote(runtime.name())), runtime));
  }

  @Override
  public PodRuntime boundPod(String namespace, String name) {
    return bindings.stream()
        .filter(b -> b.namespace().equals(namespace) && b.pod().pattern().equals(quoted(name)))
        .map(Binding::runtime)
        .findFirst()
        .orElse(null);
  }

  @Override
  public void unbindPod(String namespace, String name) {
    bindings.removeIf(
        b -> b.namespace().equals(namespace) && b.pod().pattern().equals(quoted(name)));
  }

  private static String quoted(String name) {
    return Pattern.quote(name);
  }

  /**
   * Asked for a pod nobody bound, before it runs the command as given: a harness binds pods it
   * models when they are first used (a scratch pod whose watch event has not arrived yet).
   */
  public void onUnbound(java.util.function.BiConsumer<String, String> resolve) {
    this.resolver = resolve;
  }

  private volatile java.util.function.BiConsumer<String, String> resolver;

  /** Forgets every binding, fault and recorded command: the next test starts clean. */
  public void reset() {
    bindings.clear();
    faults.clear();
    cuts.clear();
    afters.clear();
    commands.clear();
    resolver = null;
  }

  /**
   * Exec into every pod of the Deployment {@code deployment} (its ReplicaSets' pods are named
   * {@code <deployment>-<pod-template-hash>-<5 characters>}) reaches the local PostgreSQL on {@code
   * postgresPort} where the pod says {@code 127.0.0.1:5432}.
   */
  public void bindDeployment(String namespace, String deployment, int postgresPort) {
    bindings.addFirst(
        new Binding(
            namespace,
            Pattern.compile(Pattern.quote(deployment) + "-[a-z0-9]{1,10}-[a-z0-9]{5}"),
            new PodRuntime(deployment, postgresPort, Map.of())));
  }

  /** Exec into the pod {@code pod} reaches the local PostgreSQL on {@code postgresPort}. */
  public void bindPod(String namespace, String pod, int postgresPort) {
    bindPod(namespace, new PodRuntime(pod, postgresPort, Map.of()));
  }

  /** Every exec whose command line matches {@code regex} starts {@code delay} late. */
  public void slowExec(String regex, java.time.Duration delay) {
    faults.add(new ExecFault(Pattern.compile(regex), delay, null, false, 0));
  }

  /**
   * The {@code nth} exec whose command line matches {@code regex} loses its stdout after {@code
   * bytes} and still reports exit code 0 (the known {@code kubectl cp} failure).
   */
  public void cutExecStream(String regex, int nth, long bytes) {
    cuts.add(new Cut(Pattern.compile(regex), new AtomicLong(nth), bytes));
  }

  /** After a command matching {@code regex} ends and before its status is sent, {@code effect}. */
  public void afterExec(String regex, Consumer<List<String>> effect) {
    afters.add(new After(Pattern.compile(regex), effect));
  }

  /** The next exec whose command line matches {@code regex} starts {@code delay} late. */
  public void slowExecOnce(String regex, java.time.Duration delay) {
    faults.add(new ExecFault(Pattern.compile(regex), delay, null, true, 0));
  }

  /**
   * The exec matching {@code regex} after {@code skip} matching ones is stopped (SIGSTOP to it, or
   * to its group when it is fenced by setsid and flock) {@code after} it started; the handle waits
   * until it was.
   */
  public ClusterInABox.Paused pauseExec(String regex, java.time.Duration after, int skip) {
    ExecFault f = new ExecFault(Pattern.compile(regex), java.time.Duration.ZERO, after, true, skip);
    faults.add(f);
    return timeout -> {
      if (!f.awaitPaused(timeout)) {
        throw new AssertionError(
            "no command matching "
                + regex
                + " was stopped within "
                + timeout
                + " (it ended first?)");
      }
    };
  }

  /** Every command run in a pod so far, in the order they were asked for. */
  public List<PodCommand> podCommands() {
    return List.copyOf(commands);
  }

  /** As {@link ClusterInABox#maxConcurrent}, for the commands run through this broker. */
  public int maxConcurrent(String regex) {
    return PodCommand.maxConcurrent(podCommands(), regex);
  }

  private Map<String, Object> plan(JsonNode in) {
    String ns = in.path("namespace").asString();
    String pod = in.path("pod").asString();
    List<String> argv = new ArrayList<>();
    in.path("argv").forEach(a -> argv.add(a.asString()));
    String line = String.join(" ", argv);
    PodRuntime runtime = bound(ns, pod);
    var resolve = resolver;
    if (runtime == null && resolve != null) {
      resolve.accept(ns, pod);
      runtime = bound(ns, pod);
    }
    String id = Long.toString(ids.incrementAndGet());
    PodCommand command = new PodCommand(ns, pod, argv, "kwok", System.currentTimeMillis());
    commands.add(command);
    ExecFault fault = faults.stream().filter(f -> f.takes(line)).findFirst().orElse(null);
    if (fault != null && fault.once()) {
      faults.remove(fault);
    }
    running.put(id, new Running(command, fault));
    Map<String, Object> plan = new LinkedHashMap<>();
    plan.put("id", id);
    if (runtime != null && inline(runtime, argv, plan)) {
      return plan;
    }
    plan.put("argv", runtime == null ? argv : runtime.translate(argv));
    plan.put(
        "env",
        runtime == null
            ? List.of()
            : runtime.environment().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue())
                .toList());
    plan.put("delayMillis", fault == null ? 0 : fault.delay().toMillis());
    plan.put("cutAfter", cutFor(line));
    return plan;
  }

  /**
   * Answers without running anything, as {@link ExecBridge} does on the mock: {@code postgres
   * --version} in a pod of another image prints that image's version ({@link ImageVersions}), and a
   * pod bound to the simulated PostgreSQL answers from {@link SimulatedPostgres}.
   */
  private static boolean inline(PodRuntime runtime, List<String> argv, Map<String, Object> plan) {
    List<String> command = PodRuntime.unfenced(argv);
    if (runtime.image() != null
        && !ClusterInABox.RESTORE_IMAGE.equals(runtime.image())
        && command.equals(List.of("postgres", "--version"))
        && ImageVersions.postgresVersion(runtime.image()) instanceof ImageVersions.Printed p) {
      plan.put("inline", true);
      plan.put("stdout", (p.line() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      plan.put("exit", 0);
      return true;
    }
    if (runtime.postgresPort() == SimulatedPostgres.PORT) {
      Optional<SimulatedPostgres.Result> simulated;
      try {
        simulated = SimulatedPostgres.run(command);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      if (simulated.isPresent()) {
        plan.put("inline", true);
        plan.put("stdout", simulated.get().stdout());
        plan.put("stderr", simulated.get().stderr());
        plan.put("exit", simulated.get().exitCode());
        return true;
      }
    }
    return false;
  }

  private PodRuntime bound(String ns, String pod) {
    return bindings.stream()
        .filter(b -> b.namespace().equals(ns) && b.pod().matcher(pod).matches())
        .map(Binding::runtime)
        .findFirst()
        .orElse(null);
  }

  private long cutFor(String line) {
    for (Cut c : cuts) {
      if (c.regex().matcher(line).find() && c.left().decrementAndGet() == 0) {
        log.info("fault: cutting the stdout of {} after {} bytes", line, c.bytes());
        return c.bytes();
      }
    }
    return -1;
  }

  private Map<String, Object> started(JsonNode in) {
    Running r = running.get(in.path("id").asString());
    long pid = in.path("pid").asLong();
    if (r != null && r.fault() != null && r.fault().pauseAfter() != null) {
      ProcessHandle.of(pid).ifPresent(p -> ExecBridge.stopLater(p, r.fault(), () -> {}));
    }
    return Map.of();
  }

  private Map<String, Object> ended(JsonNode in) {
    Running r = running.remove(in.path("id").asString());
    if (r != null) {
      String line = String.join(" ", r.command().argv());
      afters.stream()
          .filter(a -> a.regex().matcher(line).find())
          .forEach(a -> a.effect().accept(r.command().argv()));
      r.command().ended(in.path("exit").asInt(-1));
    }
    return Map.of();
  }

  private void answer(HttpExchange ex, java.util.function.Function<JsonNode, Object> handler)
      throws IOException {
    try (ex) {
      byte[] body;
      int status;
      try {
        body = json.writeValueAsBytes(handler.apply(json.readTree(ex.getRequestBody())));
        status = 200;
      } catch (RuntimeException e) {
        log.warn("exec broker {}: {}", ex.getRequestURI(), e.toString());
        body = e.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        status = 500;
      }
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(status, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
