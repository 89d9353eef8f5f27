package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A real Kubernetes control plane on this machine, built by {@code bin/ensure-kube} from the Go
 * module proxy: etcd, kube-apiserver (RBAC on), kube-controller-manager (Deployments, ReplicaSets,
 * Jobs, garbage collection, ServiceAccount tokens), kube-scheduler, and kwok as the kubelet of fake
 * nodes (pods go Running, and {@code exec} runs the command on this machine, in {@link #execDir},
 * as kwok's ClusterExec says). Started once per test JVM ({@link #shared}) and stopped when it
 * exits; each test takes a namespace of its own ({@link #namespace}).
 *
 * <p>Everything listens on 127.0.0.1 on free ports; the certificates are made at start with openssl
 * (one CA, EC keys) in a temporary directory, removed at the end. What a real cluster has that this
 * one has not: kubelets and container runtimes (kwok stands in: no image is pulled, a pod's command
 * does not run until exec runs it), networking between pods, and storage provisioning
 * (PersistentVolumes are made by the harness).
 */
public final class KubeControlPlane implements AutoCloseable {
  private static KubeControlPlane shared;
  private static final String LOGS_CRD = "logs.kwok.x-k8s.io";

  private final Path dir;
  private final Path bin;
  private final List<Process> processes = new ArrayList<>();
  private final List<String> names = new ArrayList<>();
  private final int apiPort;
  private final KubernetesClient admin;
  private final AtomicInteger namespaces = new AtomicInteger();
  private final long startedMillis;
  private final ExecBroker broker = new ExecBroker();

  /**
   * The control plane of this JVM, started on first use; null when {@code bin/ensure-kube} has no
   * binaries for this machine (no Go): {@link Required#kube} then skips or fails the test.
   */
  public static synchronized KubeControlPlane shared() {
    if (shared == null) {
      Path bin = BuiltTools.kube();
      if (bin == null) {
        return null;
      }
      shared = new KubeControlPlane(bin);
      Runtime.getRuntime().addShutdownHook(new Thread(shared::close, "kube-control-plane-stop"));
    }
    return shared;
  }

  /**
   * Stops this JVM's control plane, if it runs: a test class that used it calls this when done, so
   * its processes do not take CPU from the long tests after it (the next {@link #shared} starts a
   * new one, in about 10 s).
   */
  public static synchronized void stopShared() {
    if (shared != null) {
      shared.close();
      shared = null;
    }
  }

  private KubeControlPlane(Path bin) {
    this.bin = bin;
    this.startedMillis = System.currentTimeMillis();
    try {
      dir = Files.createTempDirectory("kube-control-plane-");
      Files.createDirectories(dir.resolve("exec"));
      Files.createDirectories(dir.resolve("pki"));
      int etcdPort = freePort();
      int peerPort = freePort();
      apiPort = freePort();
      int kcmPort = freePort();
      int schedulerPort = freePort();
      int kwokPort = freePort();
      certificates();
      for (String user : List.of("admin", "kcm", "scheduler")) {
        Files.writeString(dir.resolve(user + ".kubeconfig"), kubeconfig(user));
      }
      start(
          "etcd",
          List.of(
              "--name",
              "cp",
              "--data-dir",
              dir.resolve("etcd").toString(),
              "--unsafe-no-fsync",
              "--log-level",
              "warn",
              "--listen-client-urls",
              "http://127.0.0.1:" + etcdPort,
              "--advertise-client-urls",
              "http://127.0.0.1:" + etcdPort,
              "--listen-peer-urls",
              "http://127.0.0.1:" + peerPort,
              "--initial-advertise-peer-urls",
              "http://127.0.0.1:" + peerPort,
              "--initial-cluster",
              "cp=http://127.0.0.1:" + peerPort));
      await(
          "etcd", Duration.ofSeconds(30), () -> httpOk("http://127.0.0.1:" + etcdPort + "/health"));
      String pki = dir.resolve("pki").toString();
      start(
          "kube-apiserver",
          List.of(
              "--etcd-servers",
              "http://127.0.0.1:" + etcdPort,
              "--bind-address",
              "127.0.0.1",
              "--advertise-address",
              "127.0.0.1",
              "--secure-port",
              Integer.toString(apiPort),
              "--tls-cert-file",
              pki + "/apiserver.crt",
              "--tls-private-key-file",
              pki + "/apiserver.key",
              "--client-ca-file",
              pki + "/ca.crt",
              "--authorization-mode",
              "Node,RBAC",
              "--service-account-issuer",
              "https://kubernetes.default.svc",
              "--service-account-key-file",
              pki + "/sa.pub",
              "--service-account-signing-key-file",
              pki + "/sa.key",
              "--service-cluster-ip-range",
              "10.96.0.0/16",
              // A loopback address cannot be the kubernetes Service's endpoint.
              "--endpoint-reconciler-type",
              "none",
              "--kubelet-preferred-address-types",
              "InternalIP",
              "--audit-policy-file",
              auditPolicy().toString(),
              "--audit-log-path",
              audit().toString(),
              "--audit-log-format",
              "json",
              "--audit-log-mode",
              "blocking"));
      admin = client(Config.fromKubeconfig(Files.readString(dir.resolve("admin.kubeconfig"))));
      await(
          "kube-apiserver",
          Duration.ofSeconds(90),
          () -> {
            try {
              return "ok".equals(admin.raw("/readyz"));
            } catch (RuntimeException e) {
              return false;
            }
          });
      String kcm = dir.resolve("kcm.kubeconfig").toString();
      start(
          "kube-controller-manager",
          List.of(
              "--kubeconfig",
              kcm,
              "--authentication-kubeconfig",
              kcm,
              "--authorization-kubeconfig",
              kcm,
              "--bind-address",
              "127.0.0.1",
              "--secure-port",
              Integer.toString(kcmPort),
              "--leader-elect=false",
              "--service-account-private-key-file",
              pki + "/sa.key",
              "--root-ca-file",
              pki + "/ca.crt",
              "--use-service-account-credentials",
              "--controllers",
              "*"));
      String scheduler = dir.resolve("scheduler.kubeconfig").toString();
      start(
          "kube-scheduler",
          List.of(
              "--kubeconfig",
              scheduler,
              "--authentication-kubeconfig",
              scheduler,
              "--authorization-kubeconfig",
              scheduler,
              "--bind-address",
              "127.0.0.1",
              "--secure-port",
              Integer.toString(schedulerPort),
              "--leader-elect=false"));
      Files.writeString(
          dir.resolve("kwok-exec.yaml"),
          """
          apiVersion: kwok.x-k8s.io/v1alpha1
          kind: ClusterExec
          metadata:
            name: local
          spec:
            execs:
            - local:
                workDir: "%s"
                envs:
                - name: KWOK_EXEC_WRAPPER
                  value: "%s"
                - name: KWOK_EXEC_BROKER
                  value: "%s"
          """
              .formatted(execDir(), bin.resolve("exec-wrapper"), broker.url()));
      Path stages = bin.resolve("../kwok-stages").normalize();
      List<String> kwok =
          new ArrayList<>(
              List.of(
                  "--kubeconfig",
                  dir.resolve("admin.kubeconfig").toString(),
                  "--manage-all-nodes=false",
                  "--manage-nodes-with-annotation-selector",
                  "kwok.x-k8s.io/node=fake",
                  "--node-ip",
                  "127.0.0.1",
                  "--node-port",
                  Integer.toString(kwokPort),
                  "--server-address",
                  "127.0.0.1:" + kwokPort,
                  "--tls-cert-file",
                  pki + "/kwok.crt",
                  "--tls-private-key-file",
                  pki + "/kwok.key",
                  "-c",
                  dir.resolve("kwok-exec.yaml").toString()));
      // node-heartbeat, not node-heartbeat-with-lease: the latter clears the nodes' addresses
      // after ten minutes, and exec then has no node to reach.
      for (String stage : List.of("node-initialize", "node-heartbeat")) {
        kwok.addAll(List.of("-c", stages.resolve(stage + ".yaml").toString()));
      }
      // kwok's pod-ready and pod-complete, except for the pods whose status and log the harness
      // writes as their kubelet: the restore image's version check ({@link ShortLivedPods}) and
      // CNPG's bootstrap Jobs' pods ({@link CnpgController}). They must be excluded when they are
      // created: a job kwok queued is cancelled only by a new match (kwok v0.8.0
      // pod_controller.go:861-871); a missing label gives no value, so NotIn and DoesNotExist are
      // then true (pkg/utils/expression/selector.go:65-90). docs/kwok-harness.md.
      String harnessPods =
          "    - key: '.metadata.labels[\"app.kubernetes.io/component\"]'\n"
              + "      operator: 'NotIn'\n"
              + "      values: ['"
              + ShortLivedPods.COMPONENT
              + "']\n"
              + "    - key: '.metadata.labels[\"cnpg.io/jobRole\"]'\n"
              + "      operator: 'DoesNotExist'\n";
      for (String stage : List.of("pod-ready", "pod-complete")) {
        String yaml = Files.readString(stages.resolve(stage + ".yaml"));
        String matchExpressions = "    matchExpressions:\n";
        if (!yaml.contains(matchExpressions)) {
          throw new IllegalStateException(
              "kwok's " + stage + " stage has no matchExpressions to extend");
        }
        Files.writeString(
            dir.resolve(stage + ".yaml"),
            yaml.replace(matchExpressions, matchExpressions + harnessPods));
        kwok.addAll(List.of("-c", dir.resolve(stage + ".yaml").toString()));
      }
      // Per-pod logs: kwok serves pods/<name>/log from the Logs object of that name
      // (server/debugging_logs.go:124-147) and only watches the CRD, never installs it
      // (server.go:464-478).
      admin
          .apiextensions()
          .v1()
          .customResourceDefinitions()
          .load(stages.resolve("kwok.x-k8s.io_logs.yaml").toFile())
          .create();
      await(
          "the Logs CRD",
          Duration.ofSeconds(30),
          () -> {
            var crd =
                admin.apiextensions().v1().customResourceDefinitions().withName(LOGS_CRD).get();
            return crd != null
                && crd.getStatus() != null
                && crd.getStatus().getConditions().stream()
                    .anyMatch(
                        c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
          });
      kwok.add("--enable-crds=Logs");
      Files.createDirectories(dir.resolve("logs"));
      // A deleted pod goes when its grace period ends (its deletionTimestamp), as a kubelet
      // removes a pod whose container ignores SIGTERM (a `sleep` as PID 1) only then; one deleted
      // with grace 0 goes at once. kwok's general pod-delete stage
      // (kustomize/stage/pod/general/pod-delete.yaml) picks a random moment up to it instead, and
      // its fast one deletes at once.
      Files.writeString(
          dir.resolve("pod-delete.yaml"),
          """
          apiVersion: kwok.x-k8s.io/v1alpha1
          kind: Stage
          metadata:
            name: pod-delete
          spec:
            resourceRef:
              apiGroup: v1
              kind: Pod
            selector:
              matchExpressions:
              - key: '.metadata.deletionTimestamp'
                operator: 'Exists'
              - key: '.metadata.finalizers'
                operator: 'DoesNotExist'
            delay:
              durationMilliseconds: 0
              durationFrom:
                expressionFrom: '.metadata.deletionTimestamp'
            next:
              delete: true
          """);
      kwok.addAll(List.of("-c", dir.resolve("pod-delete.yaml").toString()));
      start("kwok", kwok);
      await(
          "the default ServiceAccount",
          Duration.ofSeconds(60),
          () -> admin.serviceAccounts().inNamespace("default").withName("default").get() != null);
      node("kwok-node-0");
    } catch (IOException e) {
      close();
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * A client with the cluster's admin rights (system:masters): for fixtures, never for the code
   * under test.
   */
  public KubernetesClient admin() {
    return admin;
  }

  public Path adminKubeconfig() {
    return dir.resolve("admin.kubeconfig");
  }

  /**
   * The API server's audit log (JSON lines, one per request at ResponseComplete): what every
   * ServiceAccount asked for, with its verb, URI and answer. Only ServiceAccounts' requests are
   * logged (the code under test runs as one; the control plane's own components are not).
   */
  public Path audit() {
    return dir.resolve("audit.log");
  }

  private Path auditPolicy() throws IOException {
    return Files.writeString(
        dir.resolve("audit-policy.yaml"),
        """
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitStages: ["RequestReceived", "ResponseStarted"]
        rules:
        - level: Metadata
          userGroups: ["system:serviceaccounts"]
        - level: None
        """);
  }

  /** What a pod's exec runs on this machine, and the faults a test sets on it. */
  public ExecBroker broker() {
    return broker;
  }

  /** Where kwok runs every {@code exec}'s command (its working directory). */
  public Path execDir() {
    return dir.resolve("exec");
  }

  /**
   * Makes {@code text} the log of pod {@code ns/name}, as kwok serves it to {@code kubectl logs}
   * and the activities: a file in CRI format (one {@code <RFC3339Nano> stdout F <line>} per line;
   * k8s.io/cri-client logs.go:127-167) and the Logs object named as the pod. Returns once kwok
   * serves it (before the Logs object reaches kwok's informer, the log request fails with 400).
   */
  public void podLog(String ns, String name, String text) {
    try {
      Path file = dir.resolve("logs").resolve(ns + "." + name + ".log");
      StringBuilder cri = new StringBuilder();
      String now = java.time.Instant.now().toString();
      for (String line : text.split("\n", -1)) {
        if (!line.isEmpty()) {
          cri.append(now).append(" stdout F ").append(line).append('\n');
        }
      }
      Files.writeString(file, cri.toString());
      var logs =
          new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
              .withApiVersion("kwok.x-k8s.io/v1alpha1")
              .withKind("Logs")
              .withNewMetadata()
              .withName(name)
              .withNamespace(ns)
              .endMetadata()
              .addToAdditionalProperties(
                  "spec", Map.of("logs", List.of(Map.of("logsFile", file.toString()))))
              .build();
      admin
          .genericKubernetesResources("kwok.x-k8s.io/v1alpha1", "Logs")
          .inNamespace(ns)
          .resource(logs)
          .createOr(io.fabric8.kubernetes.client.dsl.NonDeletingOperation::update);
      await(
          "kwok to serve the log of pod " + ns + "/" + name,
          Duration.ofSeconds(30),
          () -> {
            try {
              admin.pods().inNamespace(ns).withName(name).getLog();
              return true;
            } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
              return false;
            }
          });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The directory of the binaries (kubectl among them). */
  public Path bin() {
    return bin;
  }

  /** Milliseconds from the start of this control plane until it served (for the notes). */
  public long startedMillis() {
    return startedMillis;
  }

  /** A fake node kwok runs pods on. */
  public void node(String name) {
    admin
        .nodes()
        .resource(
            new NodeBuilder()
                .withNewMetadata()
                .withName(name)
                .withAnnotations(
                    Map.of("kwok.x-k8s.io/node", "fake", "node.alpha.kubernetes.io/ttl", "0"))
                .withLabels(
                    Map.of(
                        "kubernetes.io/hostname", name,
                        "kubernetes.io/os", "linux",
                        "kubernetes.io/arch", "amd64",
                        "type", "kwok"))
                .endMetadata()
                .build())
        .serverSideApply();
  }

  /** A new namespace, {@code prefix-N}, with its default ServiceAccount made. */
  public String namespace(String prefix) {
    String ns = prefix + "-" + namespaces.incrementAndGet();
    admin
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();
    await(
        "the default ServiceAccount of " + ns,
        Duration.ofSeconds(30),
        () -> admin.serviceAccounts().inNamespace(ns).withName("default").get() != null);
    return ns;
  }

  /**
   * A kubeconfig for ServiceAccount {@code sa} of {@code ns} (created if missing), with a token
   * from the TokenRequest API valid for a day: what the worker gets in its pod.
   */
  public Path serviceAccountKubeconfig(String ns, String sa) {
    if (admin.serviceAccounts().inNamespace(ns).withName(sa).get() == null) {
      admin
          .serviceAccounts()
          .inNamespace(ns)
          .resource(
              new io.fabric8.kubernetes.api.model.ServiceAccountBuilder()
                  .withNewMetadata()
                  .withName(sa)
                  .endMetadata()
                  .build())
          .create();
    }
    String token =
        admin
            .serviceAccounts()
            .inNamespace(ns)
            .withName(sa)
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withExpirationSeconds(86_400L)
                    .endSpec()
                    .build())
            .getStatus()
            .getToken();
    Path file = dir.resolve("sa-" + ns + "-" + sa + ".kubeconfig");
    try {
      Files.writeString(file, kubeconfig(sa, "{token: \"" + token + "\"}", ns));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /** A fabric8 client on {@code kubeconfig} (a ServiceAccount's, say). */
  public static KubernetesClient client(Path kubeconfig) {
    try {
      return client(Config.fromKubeconfig(Files.readString(kubeconfig)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static KubernetesClient client(Config config) {
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  @Override
  public synchronized void close() {
    for (int i = processes.size() - 1; i >= 0; i--) { // the clients first, etcd last
      Process p = processes.get(i);
      p.destroy();
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    processes.clear();
    broker.close();
    if (admin != null) {
      admin.close();
    }
    if (dir != null) {
      Sandbox.deleteTree(dir);
    }
  }

  /** The last lines of a component's log, for a failure message. */
  public String logTail(String name, int lines) {
    try {
      List<String> all = Files.readAllLines(dir.resolve(name + ".log"));
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private void start(String name, List<String> args) throws IOException {
    List<String> argv = new ArrayList<>();
    argv.add(bin.resolve(name).toString());
    argv.addAll(args);
    Path log = dir.resolve(name + ".log");
    processes.add(
        new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start());
    names.add(name);
  }

  private void await(String what, Duration timeout, BooleanSupplier ready) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!ready.getAsBoolean()) {
      for (int i = 0; i < processes.size(); i++) {
        if (!processes.get(i).isAlive()) {
          throw new IllegalStateException(
              names.get(i)
                  + " exited while waiting for "
                  + what
                  + ":\n"
                  + logTail(names.get(i), 20));
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "timed out after "
                + timeout
                + " waiting for "
                + what
                + "; kube-apiserver's log:\n"
                + logTail("kube-apiserver", 20));
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
  }

  private static boolean httpOk(String url) {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
                  HttpRequest.newBuilder(URI.create(url)).build(),
                  HttpResponse.BodyHandlers.discarding())
              .statusCode()
          == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** One CA (EC) signs all; RSA keys for the servers and clients; a service-account key pair. */
  private void certificates() throws IOException {
    Path pki = dir.resolve("pki");
    openssl(
        "req",
        "-x509",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=opschain-test-ca",
        "-keyout",
        pki + "/ca.key",
        "-out",
        pki + "/ca.crt");
    String serving = "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost";
    cert(
        "apiserver",
        "/CN=kube-apiserver",
        serving + ",IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc");
    cert("kwok", "/CN=kwok", serving);
    cert("admin", "/O=system:masters/CN=admin", "extendedKeyUsage=clientAuth");
    cert("kcm", "/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth");
    cert("scheduler", "/CN=system:kube-scheduler", "extendedKeyUsage=clientAuth");
    openssl("genrsa", "-out", pki + "/sa.key", "2048");
    openssl("rsa", "-in", pki + "/sa.key", "-pubout", "-out", pki + "/sa.pub");
  }

  private void cert(String name, String subject, String extensions) throws IOException {
    Path pki = dir.resolve("pki");
    Path ext = pki.resolve(name + ".ext");
    Files.writeString(ext, extensions + "\n");
    // RSA in PKCS#1 ("BEGIN RSA PRIVATE KEY"): what fabric8 8's CertUtils reads for a client
    // key (an EC key, or one in PKCS#8, fails there with "Invalid DER: object is not integer").
    openssl("genrsa", "-traditional", "-out", pki + "/" + name + ".key", "2048");
    openssl(
        "req",
        "-new",
        "-key",
        pki + "/" + name + ".key",
        "-subj",
        subject,
        "-out",
        pki + "/" + name + ".csr");
    openssl(
        "x509",
        "-req",
        "-in",
        pki + "/" + name + ".csr",
        "-CA",
        pki + "/ca.crt",
        "-CAkey",
        pki + "/ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        pki + "/" + name + ".crt",
        "-extfile",
        ext.toString());
  }

  private static void openssl(String... args) throws IOException {
    List<String> argv = new ArrayList<>(List.of("openssl"));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    try {
      if (p.waitFor() != 0) {
        throw new IOException("openssl " + args[0] + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** A kubeconfig for one of the control plane's own users, by its client certificate. */
  private String kubeconfig(String user) {
    Path pki = dir.resolve("pki");
    return kubeconfig(
        user,
        "{client-certificate: \"%s\", client-key: \"%s\"}"
            .formatted(pki.resolve(user + ".crt"), pki.resolve(user + ".key")),
        null);
  }

  /** A kubeconfig of this API server for {@code user} with {@code credentials} (YAML flow map). */
  private String kubeconfig(String user, String credentials, String namespace) {
    return """
    apiVersion: v1
    kind: Config
    clusters:
    - name: cp
      cluster: {server: "https://127.0.0.1:%d", certificate-authority: "%s"}
    users:
    - name: %s
      user: %s
    contexts:
    - name: cp
      context: {cluster: cp, user: %s%s}
    current-context: cp
    """
        .formatted(
            apiPort,
            dir.resolve("pki/ca.crt"),
            user,
            credentials,
            user,
            namespace == null ? "" : ", namespace: " + namespace);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
