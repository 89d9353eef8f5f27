package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The harness's API server: records every request, injects the faults a test asks for, bridges pod
 * exec to local processes, and hands everything else to fabric8's CRUD dispatcher.
 */
final class HarnessDispatcher extends Dispatcher implements ExecBindings {
  private static final Pattern EXEC =
      Pattern.compile("/api/v1/namespaces/([^/]+)/pods/([^/?]+)/exec\\?.*");

  private final KubernetesCrudDispatcher crud;
  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final List<Fault> faults = new CopyOnWriteArrayList<>();
  private final Map<String, PodRuntime> pods = new ConcurrentHashMap<>();
  private final List<Consumer<Call>> listeners = new CopyOnWriteArrayList<>();
  private final java.util.Set<String> denied = ConcurrentHashMap.newKeySet();
  private final Map<String, String> logs = new ConcurrentHashMap<>();
  private static final Pattern LOG =
      Pattern.compile("/api/v1/namespaces/([^/]+)/pods/([^/?]+)/log(\\?.*)?");
  private static final tools.jackson.databind.ObjectMapper JSON =
      new tools.jackson.databind.ObjectMapper();

  /** One API request as the harness saw it, with when (epoch millis). */
  record Call(String method, String path, String userAgent, long atMillis) {}

  private final List<PodCommand> podCommands = new CopyOnWriteArrayList<>();
  private final List<ExecFault> execFaults = new CopyOnWriteArrayList<>();

  void addExecFault(ExecFault f) {
    execFaults.add(f);
  }

  List<PodCommand> podCommands() {
    return new ArrayList<>(podCommands);
  }

  /** The user agent of the simulated controllers' client; faults are for the code under test. */
  static final String CONTROLLER_AGENT = "cluster-in-a-box-controllers";

  /** A fault that fires on the {@code nth} matching request (1-based), once. */
  static final class Fault {
    final String method;
    final Pattern path;
    final int status;
    final long cutAfterBytes;
    int countdown;

    Fault(String method, Pattern path, int nth, int status, long cutAfterBytes) {
      this.method = method;
      this.path = path;
      this.countdown = nth;
      this.status = status;
      this.cutAfterBytes = cutAfterBytes;
    }
  }

  HarnessDispatcher(KubernetesCrudDispatcher crud) {
    this.crud = crud;
  }

  @Override
  public void bindPod(String namespace, PodRuntime runtime) {
    pods.put(namespace + "/" + runtime.name(), runtime);
  }

  @Override
  public PodRuntime boundPod(String namespace, String name) {
    return pods.get(namespace + "/" + name);
  }

  @Override
  public void unbindPod(String namespace, String name) {
    pods.remove(namespace + "/" + name);
  }

  /** SelfSubjectAccessReviews for this verb on this resource ("pods/exec", "clusters") say no. */
  void deny(String verb, String resource) {
    denied.add(verb + " " + resource);
  }

  void setLog(String namespace, String pod, String text) {
    logs.put(namespace + "/" + pod, text);
  }

  private final List<Map.Entry<Pattern, java.util.function.Consumer<List<String>>>> afterExec =
      new CopyOnWriteArrayList<>();

  void addAfterExec(Pattern regex, java.util.function.Consumer<List<String>> effect) {
    afterExec.add(Map.entry(regex, effect));
  }

  void addFault(Fault f) {
    faults.add(f);
  }

  /** Requests this role may not make: "METHOD path-regex", matched against the path and query. */
  private final List<Fault> forbidden = new CopyOnWriteArrayList<>();

  void forbid(String method, Pattern path) {
    forbidden.add(new Fault(method, path, 0, 403, 0));
  }

  private boolean isForbidden(Call call) {
    return !CONTROLLER_AGENT.equals(call.userAgent())
        && forbidden.stream()
            .anyMatch(f ->
                f.method.equalsIgnoreCase(call.method()) && f.path.matcher(call.path()).find());
  }

  void onCall(Consumer<Call> listener) {
    listeners.add(listener);
  }

  List<Call> calls() {
    return new ArrayList<>(calls);
  }

  KubernetesCrudDispatcher crud() {
    return crud;
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    Call call =
        new Call(
            request.getMethod(),
            request.getPath(),
            String.valueOf(request.getHeader("User-Agent")),
            System.currentTimeMillis());
    calls.add(call);
    listeners.forEach(l -> l.accept(call));
    if (isForbidden(call)) {
      // The shape of the API server's RBAC refusal (reason Forbidden, code 403).
      return new MockResponse()
          .setResponseCode(403)
          .setHeader("Content-Type", "application/json")
          .setBody(
              "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":403,"
                  + "\"reason\":\"Forbidden\",\"message\":\"forbidden by the harness's role: "
                  + call.method()
                  + " "
                  + call.path().replaceAll("[\"\\\\]", "")
                  + "\"}");
    }
    Fault fault = CONTROLLER_AGENT.equals(call.userAgent()) ? null : matchFault(call);
    if (fault != null && fault.status > 0) {
      return new MockResponse()
          .setResponseCode(fault.status)
          .setHeader("Content-Type", "application/json")
          .setBody(
              "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":"
                  + fault.status
                  + ",\"reason\":\"InjectedFault\",\"message\":\"fault injected by the test harness\"}");
    }
    if (request.getMethod().equals("POST")
        && request.getPath().startsWith("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")) {
      return accessReview(request.getUtf8Body());
    }
    if (request.getMethod().equals("GET") && request.getPath().equals("/version")) {
      return new MockResponse()
          .setResponseCode(200)
          .setHeader("Content-Type", "application/json")
          .setBody(
              "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.0-cluster-in-a-box\",\"platform\":\"linux/amd64\"}");
    }
    Matcher logMatch = LOG.matcher(request.getPath());
    if (logMatch.matches() && request.getMethod().equals("GET")) {
      String text = logs.getOrDefault(logMatch.group(1) + "/" + logMatch.group(2), "");
      return new MockResponse()
          .setResponseCode(200)
          .setHeader("Content-Type", "text/plain")
          .setBody(text);
    }
    if (!request.getMethod().equals("GET") && request.getPath().contains("dryRun=All")) {
      // Server-side dry run: validated and answered, never persisted.
      String path = request.getPath().substring(0, request.getPath().indexOf('?'));
      return crud.handleGet(path);
    }
    Matcher exec = EXEC.matcher(request.getPath());
    if (exec.matches()) {
      PodRuntime pod = pods.get(exec.group(1) + "/" + exec.group(2));
      if (pod == null) {
        return new MockResponse()
            .setResponseCode(404)
            .setBody(
                "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":404,\"message\":\"pod not running\"}");
      }
      long cut = fault == null ? Long.MAX_VALUE : fault.cutAfterBytes;
      List<String> argv = ExecBridge.command(request.getPath());
      PodCommand record =
          new PodCommand(
              exec.group(1), exec.group(2), argv, call.userAgent(), System.currentTimeMillis());
      podCommands.add(record);
      ExecFault slow =
          execFaults.stream().filter(f -> f.takes(String.join(" ", argv))).findFirst().orElse(null);
      if (slow != null && slow.once()) {
        execFaults.remove(slow);
      }
      List<java.util.function.Consumer<List<String>>> after =
          afterExec.stream()
              .filter(e -> e.getKey().matcher(String.join(" ", argv)).find())
              .map(Map.Entry::getValue)
              .toList();
      return new MockResponse()
          .withWebSocketUpgrade(new ExecBridge(pod, argv, cut, slow, record, after));
    }
    return WatchClose.offTheLoop(crud.dispatch(request));
  }

  /** Answers a SelfSubjectAccessReview: allowed unless the test denied that verb and resource. */
  private MockResponse accessReview(String body) {
    tools.jackson.databind.node.ObjectNode review =
        (tools.jackson.databind.node.ObjectNode) JSON.readTree(body);
    var attrs = review.path("spec").path("resourceAttributes");
    String resource =
        attrs.path("resource").asString("")
            + (attrs.path("subresource").asString("").isEmpty()
                ? ""
                : "/" + attrs.path("subresource").asString(""));
    boolean allowed = !denied.contains(attrs.path("verb").asString("") + " " + resource);
    review
        .putObject("status")
        .put("allowed", allowed)
        .put("reason", allowed ? "harness allows" : "denied by the test");
    return new MockResponse()
        .setResponseCode(201)
        .setHeader("Content-Type", "application/json")
        .setBody(review.toString());
  }

  private Fault matchFault(Call call) {
    for (Fault f : faults) {
      if ((f.method == null || f.method.equalsIgnoreCase(call.method()))
          && f.path.matcher(call.path()).find()) {
        synchronized (f) {
          if (--f.countdown == 0) {
            faults.remove(f);
            return f;
          }
        }
      }
    }
    return null;
  }

  @Override
  public void shutdown() {
    crud.shutdown();
  }
}
