package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Kubernetes cluster in a box: fabric8's mock API server in CRUD mode, whose pod exec runs real
 * local processes (see {@link ExecBridge}), with a request log and fault injection. The client it
 * hands out is the real fabric8 client, so the activities' code runs unchanged.
 */
public final class ClusterInABox implements AutoCloseable {

  private final HarnessDispatcher dispatcher;
  private final KubernetesMockServer server;
  private final KubernetesClient client;

  public ClusterInABox() {
    dispatcher = new HarnessDispatcher(new KubernetesCrudDispatcher());
    server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init();
    client = server.createClient();
    controller = server.createClient();
    podWatch = controller.pods().inAnyNamespace().watch(new PodsStartRunning(controller));
  }

  private final KubernetesClient controller;
  private final io.fabric8.kubernetes.client.Watch podWatch;

  /** Like the kubelet: a new pod without a status becomes Running and Ready. */
  private static final class PodsStartRunning implements io.fabric8.kubernetes.client.Watcher<io.fabric8.kubernetes.api.model.Pod> {
    private final KubernetesClient client;

    PodsStartRunning(KubernetesClient client) {
      this.client = client;
    }

    @Override
    public void eventReceived(Action action, io.fabric8.kubernetes.api.model.Pod pod) {
      if (action != Action.ADDED || (pod.getStatus() != null && pod.getStatus().getPhase() != null)) {
        return;
      }
      client
          .pods()
          .inNamespace(pod.getMetadata().getNamespace())
          .withName(pod.getMetadata().getName())
          .edit(
              p -> {
                p.setStatus(
                    new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                        .withPhase("Running")
                        .addNewCondition()
                        .withType("Ready")
                        .withStatus("True")
                        .endCondition()
                        .build());
                return p;
              });
    }

    @Override
    public void onClose(io.fabric8.kubernetes.client.WatcherException cause) {}
  }

  /** The real fabric8 client, pointed at the box. */
  public KubernetesClient client() {
    return client;
  }

  /** A new client for the same box (as another process would have). */
  public KubernetesClient newClient() {
    return server.createClient();
  }

  /**
   * Creates a Running pod whose exec runs local processes. {@code postgresPort} is where the pod's
   * 127.0.0.1:5432 really is (0 for none).
   */
  public void runPod(String namespace, String name, Map<String, String> labels, int postgresPort) {
    bindExec(namespace, name, postgresPort);
    client
        .pods()
        .inNamespace(namespace)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace)
                .withLabels(labels)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("harness")
                .endContainer()
                .endSpec()
                .withNewStatus()
                .withPhase("Running")
                .addNewCondition()
                .withType("Ready")
                .withStatus("True")
                .endCondition()
                .endStatus()
                .build())
        .create();
  }

  /** Lets exec into an existing (or future) pod of that name run local processes. */
  public void bindExec(String namespace, String name, int postgresPort) {
    dispatcher.bindPod(namespace, new PodRuntime(name, postgresPort, Map.of()));
  }

  /** The {@code nth} request matching method and path regex gets HTTP {@code status}. */
  public void failRequest(String method, String pathRegex, int nth, int status) {
    dispatcher.addFault(new HarnessDispatcher.Fault(method, Pattern.compile(pathRegex), nth, status, 0));
  }

  /**
   * The {@code nth} exec whose request path matches {@code pathRegex} loses its stdout after
   * {@code bytes} and still reports exit code 0 (the known {@code kubectl cp} failure).
   */
  public void cutExecStream(String pathRegex, int nth, long bytes) {
    dispatcher.addFault(new HarnessDispatcher.Fault(null, Pattern.compile(pathRegex), nth, 0, bytes));
  }

  /** Every API request so far, as "METHOD path". */
  public List<String> requests() {
    return dispatcher.calls().stream().map(c -> c.method() + " " + c.path()).toList();
  }

  /** Requests that can change state (everything but GET), for "nothing was mutated" checks. */
  public List<String> mutatingRequests() {
    return dispatcher.calls().stream()
        .filter(c -> !c.method().equals("GET"))
        .filter(c -> !c.path().contains("/exec?"))
        .filter(c -> !c.path().contains("selfsubjectaccessreviews"))
        .map(c -> c.method() + " " + c.path())
        .toList();
  }

  @Override
  public void close() {
    podWatch.close();
    controller.close();
    client.close();
    server.destroy();
  }
}
