package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.nio.file.Path;
import java.time.Duration;
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

  /** The mock server logs every request at INFO through java.util.logging; keep that quiet. */
  private static final java.util.logging.Logger MOCK_LOG = quiet("io.fabric8.mockwebserver");

  private static java.util.logging.Logger quiet(String name) {
    java.util.logging.Logger l = java.util.logging.Logger.getLogger(name);
    l.setLevel(java.util.logging.Level.WARNING);
    return l;
  }

  public ClusterInABox() {
    dispatcher = new HarnessDispatcher(new KubernetesCrudDispatcher());
    instances = new CnpgInstances(dispatcher);
    server =
        new KubernetesMockServer(
            new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init();
    client = server.createClient();
    // The simulated controllers are Kubernetes itself: injected faults never hit them.
    controller =
        server.createClient(
            b -> b.editOrNewConfig().withUserAgent(HarnessDispatcher.CONTROLLER_AGENT).endConfig());
    shortLivedPods = ShortLivedPods.onMock(controller, this);
    scratchPods = new ScratchPods(dispatcher);
    podWatch =
        controller
            .pods()
            .inAnyNamespace()
            .watch(new PodsStartRunning(controller, shortLivedPods, scratchPods));
    CnpgOperatorInstalls.registerCrd(client);
    controllers = new Controllers(controller, this);
  }

  private final Controllers controllers;
  private final ScratchPods scratchPods;

  private final CnpgInstances instances;

  CnpgInstances instances() {
    return instances;
  }

  /**
   * The data volume of CNPG cluster {@code cluster} is {@code pgdata}: when its instance pod runs,
   * PostgreSQL runs on it (a manual restore writes there).
   */
  public void cnpgDataAt(String namespace, String cluster, Path pgdata) {
    instances.dataAt(namespace, cluster, pgdata);
  }

  /** The PostgreSQL the cluster's instance runs now, or null. */
  public LocalPostgres cnpgInstance(String namespace, String cluster) {
    return instances.running(namespace, cluster);
  }

  /** Pods with an emptyDir that exist: their scratch space is still on disk (none when clean). */
  public java.util.Set<String> scratchPodsLeft() {
    return scratchPods.live();
  }

  /**
   * Exec into a CNPG instance pod reaches the cluster's PostgreSQL at {@code port}: the pod's
   * {@code PGHOST} and {@code PGPORT}, which CNPG sets in the postgres container (cloudnative-pg
   * pkg/specs/pods.go), point there, so a plain {@code psql -U postgres} connects as in the pod.
   */
  public void cnpgInstanceServes(String namespace, String pod, int port) {
    CnpgInstances.serves(dispatcher, namespace, pod, port);
  }

  /**
   * Exec into this CNPG instance pod answers as the simulated PostgreSQL (the demo without one).
   */
  public void simulatedCnpgInstance(String namespace, String pod) {
    dispatcher.bindPod(namespace, new PodRuntime(pod, SimulatedPostgres.PORT, Map.of()));
  }

  /**
   * After every command matching {@code regex} ends and before its exit status is sent, {@code
   * effect} runs with the command's argv: what a command did that the test changes (a fault).
   */
  public void afterExec(String regex, java.util.function.Consumer<List<String>> effect) {
    dispatcher.addAfterExec(Pattern.compile(regex), effect);
  }

  /**
   * Installs the CNPG operator's deployment as the release manifest does: {@code
   * cnpg-system/cnpg-controller-manager}, labelled (see {@link CnpgOperatorInstalls}).
   */
  public void installCnpgOperator() {
    CnpgOperatorInstalls.manifest(client);
  }

  /**
   * Waits until the cluster is up as an upgrade's preflight expects it: the CNPG operator (found by
   * its label in any namespace) and each of {@code deployments} in {@code namespace} with every
   * replica ready and a running pod. A test starts its upgrade after this, not before the harness's
   * controllers have brought the pods up (KillAnywhereIT once started while the operator was at 0
   * ready and preflight refused).
   */
  public void awaitReady(String namespace, List<String> deployments, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<String> waiting = List.of();
    while (System.nanoTime() < deadline) {
      List<String> now = new java.util.ArrayList<>();
      var operators =
          client
              .apps()
              .deployments()
              .inAnyNamespace()
              .withLabel("app.kubernetes.io/name", CnpgOperatorInstalls.CHART)
              .list()
              .getItems();
      if (operators.isEmpty() || operators.stream().noneMatch(ClusterInABox::ready)) {
        now.add("the CNPG operator");
      }
      for (String name : deployments) {
        var d = client.apps().deployments().inNamespace(namespace).withName(name).get();
        boolean podRunning =
            client.pods().inNamespace(namespace).list().getItems().stream()
                .anyMatch(p ->
                    p.getMetadata().getName().startsWith(name + "-")
                        && p.getStatus() != null
                        && "Running".equals(p.getStatus().getPhase()));
        boolean scaledDown = d != null && Integer.valueOf(0).equals(d.getSpec().getReplicas());
        if (d == null || !scaledDown && (!ready(d) || !podRunning)) {
          now.add(namespace + "/" + name);
        }
      }
      if (now.isEmpty()) {
        return;
      }
      waiting = now;
      Thread.sleep(100);
    }
    throw new IllegalStateException(
        "the cluster-in-a-box did not come up within " + timeout + ": not ready: " + waiting);
  }

  private static boolean ready(io.fabric8.kubernetes.api.model.apps.Deployment d) {
    int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
    Integer ready = d.getStatus() == null ? null : d.getStatus().getReadyReplicas();
    return want > 0 && ready != null && ready >= want;
  }

  /**
   * Installs the CNPG operator's deployment as its Helm chart does for {@code helm install
   * <release> cnpg/cloudnative-pg -n <namespace>}: {@code <release>-cloudnative-pg} in that
   * namespace, with the chart's labels.
   */
  public void installCnpgOperatorChart(String release, String namespace) {
    CnpgOperatorInstalls.chart(client, release, namespace);
  }

  /**
   * Every request of the code under test whose method and path match answers 403 Forbidden, as the
   * API server answers what the caller's RBAC does not allow (a namespaced Role listing all
   * namespaces, or reading another namespace).
   */
  public void forbid(String method, String pathRegex) {
    dispatcher.forbid(method, Pattern.compile(pathRegex));
  }

  /**
   * The db pods of this deployment simulate PostgreSQL's commands (no PostgreSQL on this machine).
   */
  public void simulatedPostgresFor(String namespace, String deployment) {
    controllers.postgresFor(namespace, deployment, SimulatedPostgres.PORT);
  }

  /** Pods of this deployment reach the local PostgreSQL on {@code port} as 127.0.0.1:5432. */
  public void postgresFor(String namespace, String deployment, int port) {
    controllers.postgresFor(namespace, deployment, port);
  }

  /** Whether the CNPG import pod of the next cluster fails, and the log it leaves. */
  public void importFails(boolean fails, String log) {
    controllers.importFails(fails, log);
  }

  /** The import Job's first pod fails with this log; its retry succeeds. */
  public void importFailsOnce(String log) {
    controllers.importFailsOnce(log);
  }

  /**
   * What the CNPG import pod really does when it runs (CNPG's dump to disk and sectioned restore,
   * {@link LocalPostgres#importFrom}, into the cluster's database).
   */
  public void onImport(Runnable importer) {
    controllers.onImport(importer);
  }

  /**
   * Pods of scaled-down deployments stay Terminating this long before they are gone (see
   * Controllers#podGrace); zero, the default, removes them at once.
   */
  public void podGrace(Duration grace) {
    controllers.podGrace(grace);
  }

  /** How many times the pods of a deployment were restarted by a restartedAt change. */
  public int restarts(String namespace, String deployment) {
    return controllers.restarts(namespace, deployment);
  }

  /** SelfSubjectAccessReviews for this verb and resource ("pods/exec") answer "not allowed". */
  public void deny(String verb, String resource) {
    dispatcher.deny(verb, resource);
  }

  private final KubernetesClient controller;
  private final io.fabric8.kubernetes.client.Watch podWatch;
  private final ShortLivedPods shortLivedPods;

  /**
   * The harness's restore image: a pod of it runs this machine's PostgreSQL (the Debian PostgreSQL
   * 15 of {@link LocalPostgres}, or the simulated one), so its {@code postgres --version} is that
   * server's. Other images answer as their tags say ({@link ImageVersions}).
   */
  public static final String RESTORE_IMAGE = "cluster-in-a-box/postgresql:local";

  /** The registry has no such image: a pod of it stays Pending in ErrImagePull/ImagePullBackOff. */
  public void missingImage(String image) {
    shortLivedPods.missingImage(image);
  }

  /** Pulling {@code image} takes {@code time}: a short-lived pod of it stays Pending that long. */
  public void imagePullTakes(String image, Duration time) {
    shortLivedPods.pullTakes(image, time);
  }

  /** The real fabric8 client, pointed at the box. */
  public KubernetesClient client() {
    return client;
  }

  /** The User-Agent of {@link #activityClient()}: its requests can be told apart in the log. */
  public static final String ACTIVITY_AGENT = "opschain-db-upgrade-activities";

  /** A new client for the activities, whose requests the log attributes to them. */
  public KubernetesClient activityClient() {
    return server.createClient(b -> b.editOrNewConfig().withUserAgent(ACTIVITY_AGENT).endConfig());
  }

  /** Every request the activities' client sent ("METHOD path?query"). */
  public List<String> activityRequests() {
    return dispatcher.calls().stream()
        .filter(c -> ACTIVITY_AGENT.equals(c.userAgent()))
        .map(c -> c.method() + " " + c.path())
        .toList();
  }

  /** Requests the activities' client sent that can change state ("METHOD path"). */
  public List<String> activityMutations() {
    return dispatcher.calls().stream()
        .filter(c -> ACTIVITY_AGENT.equals(c.userAgent()))
        .filter(c -> !c.method().equals("GET"))
        .filter(c -> !c.path().contains("selfsubjectaccessreviews"))
        .filter(c -> !c.path().contains("dryRun=All"))
        .map(c -> c.method() + " " + c.path())
        .toList();
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
        .resource(PodStates.runningPod(namespace, name, labels))
        .create();
  }

  boolean execBound(String namespace, String pod) {
    return dispatcher.boundPod(namespace, pod) != null;
  }

  void unbindExec(String namespace, String pod) {
    dispatcher.unbindPod(namespace, pod);
  }

  /** Lets exec into an existing (or future) pod of that name run local processes. */
  public void bindExec(String namespace, String name, int postgresPort) {
    dispatcher.bindPod(namespace, new PodRuntime(name, postgresPort, Map.of()));
  }

  void setLog(String namespace, String pod, String text) {
    dispatcher.setLog(namespace, pod, text);
  }

  /** The {@code nth} request matching method and path regex gets HTTP {@code status}. */
  public void failRequest(String method, String pathRegex, int nth, int status) {
    dispatcher.addFault(
        new HarnessDispatcher.Fault(method, Pattern.compile(pathRegex), nth, status, 0));
  }

  /**
   * The {@code nth} exec whose request path matches {@code pathRegex} loses its stdout after {@code
   * bytes} and still reports exit code 0 (the known {@code kubectl cp} failure).
   */
  public void cutExecStream(String pathRegex, int nth, long bytes) {
    dispatcher.addFault(
        new HarnessDispatcher.Fault(null, Pattern.compile(pathRegex), nth, 0, bytes));
  }

  /** Every exec whose command line matches {@code regex} starts {@code delay} late. */
  public void slowExec(String regex, Duration delay) {
    dispatcher.addExecFault(new ExecFault(Pattern.compile(regex), delay, null, false, 0));
  }

  /** The next exec whose command line matches {@code regex} starts {@code delay} late. */
  public void slowExecOnce(String regex, Duration delay) {
    dispatcher.addExecFault(new ExecFault(Pattern.compile(regex), delay, null, true, 0));
  }

  /**
   * The next exec matching {@code regex} is stopped (SIGSTOP) {@code after} it started; the
   * returned handle waits until it was.
   */
  public Paused pauseExec(String regex, Duration after) {
    return pauseExec(regex, after, 0);
  }

  /** As {@link #pauseExec(String, Duration)}, for the exec after {@code skip} matching ones. */
  public Paused pauseExec(String regex, Duration after, int skip) {
    ExecFault f = new ExecFault(Pattern.compile(regex), Duration.ZERO, after, true, skip);
    dispatcher.addExecFault(f);
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

  /** Waits until a paused command was stopped: its partial work is then on disk. */
  @FunctionalInterface
  public interface Paused {
    void await(Duration timeout) throws InterruptedException;
  }

  /** Every command run in a pod so far, in the order they were received. */
  public List<PodCommand> podCommands() {
    return dispatcher.podCommands();
  }

  /**
   * The most commands matching {@code regex} that ran at the same time in one pod, leaving out
   * those a fence refused to start: 1 means no retry ever ran beside an earlier attempt's command.
   */
  public int maxConcurrent(String regex) {
    return PodCommand.maxConcurrent(podCommands(), regex);
  }

  /** Every API request so far, with who sent it and when. */
  public List<ApiCall> apiCalls() {
    return dispatcher.calls().stream()
        .map(c -> new ApiCall(c.method(), c.path(), c.userAgent(), c.atMillis()))
        .toList();
  }

  /** One API request: method, path with query, User-Agent, epoch millis. */
  public record ApiCall(String method, String path, String userAgent, long atMillis) {}

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
    controllers.close();
    instances.close();
    podWatch.close();
    scratchPods.close();
    controller.close();
    client.close();
    try {
      server.destroy();
    } catch (IllegalStateException e) {
      // Vert.x waits a bounded time for connections to drain; a slow drain is not a test result.
      org.slf4j.LoggerFactory.getLogger(ClusterInABox.class)
          .warn("mock API server shutdown: {}", e.getMessage());
    }
  }
}
