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
 * The harness's API server: records every request, injects the faults a test asks for, bridges
 * pod exec to local processes, and hands everything else to fabric8's CRUD dispatcher.
 */
final class HarnessDispatcher extends Dispatcher {
  private static final Pattern EXEC =
      Pattern.compile("/api/v1/namespaces/([^/]+)/pods/([^/?]+)/exec\\?.*");

  private final KubernetesCrudDispatcher crud;
  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final List<Fault> faults = new CopyOnWriteArrayList<>();
  private final Map<String, PodRuntime> pods = new ConcurrentHashMap<>();
  private final List<Consumer<Call>> listeners = new CopyOnWriteArrayList<>();

  /** One API request as the harness saw it. */
  record Call(String method, String path) {}

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

  void bindPod(String namespace, PodRuntime runtime) {
    pods.put(namespace + "/" + runtime.name(), runtime);
  }

  void addFault(Fault f) {
    faults.add(f);
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
    Call call = new Call(request.getMethod(), request.getPath());
    calls.add(call);
    listeners.forEach(l -> l.accept(call));
    Fault fault = matchFault(call);
    if (fault != null && fault.status > 0) {
      return new MockResponse()
          .setResponseCode(fault.status)
          .setHeader("Content-Type", "application/json")
          .setBody(
              "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":"
                  + fault.status
                  + ",\"reason\":\"InjectedFault\",\"message\":\"fault injected by the test harness\"}");
    }
    Matcher exec = EXEC.matcher(request.getPath());
    if (exec.matches()) {
      PodRuntime pod = pods.get(exec.group(1) + "/" + exec.group(2));
      if (pod == null) {
        return new MockResponse()
            .setResponseCode(404)
            .setBody("{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":404,\"message\":\"pod not running\"}");
      }
      long cut = fault == null ? Long.MAX_VALUE : fault.cutAfterBytes;
      return new MockResponse()
          .withWebSocketUpgrade(new ExecBridge(pod, ExecBridge.command(request.getPath()), cut));
    }
    return crud.dispatch(request);
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
