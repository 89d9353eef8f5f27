package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * One test's namespace on the real control plane ({@link KubeControlPlane}), with the harness's
 * part of a kubelet that the real API server, controller manager and scheduler do not do:
 *
 * <ul>
 *   <li>what a pod's exec runs on this machine ({@link ExecBroker}: a database Deployment's pods
 *       reach a local PostgreSQL, a bound pod runs local processes);
 *   <li>scratch pods ({@link ScratchPods}: each emptyDir a directory of its own, the pod's own
 *       127.0.0.1:5432, its user; killed and removed when the pod is deleted);
 *   <li>volumes: {@link #dataVolume} makes a claim and the PersistentVolume it binds to, as a
 *       provisioner would (the scheduler keeps a pod with an unbound claim Pending).
 * </ul>
 *
 * Everything else is Kubernetes' own: names, ReplicaSets, the scheduler, garbage collection, and
 * RBAC: {@link #activityClient} is the worker's ServiceAccount bound to {@code deploy/rbac.yaml} as
 * the README applies it, and nothing more. The namespace is emptied when the cluster is made and
 * when it is closed, so test classes can share one name.
 */
public final class RealCluster implements AutoCloseable {
  private final KubeControlPlane cp;
  private final String namespace;
  private final KubernetesClient admin;
  private final KubernetesClient worker;
  private final Path workerKubeconfig;
  private final ExecBroker broker;
  private final ScratchPods scratch;
  private final ShortLivedPods shortLived;
  private CnpgController cnpg;
  private final CnpgInstances instances;
  private final List<Watch> watches = new ArrayList<>();
  private final List<String> volumes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final List<String[]> operators = new ArrayList<>();
  private volatile boolean operatorInstalled;
  private final Map<String, Set<String>> restartedAt =
      new java.util.concurrent.ConcurrentHashMap<>();
  private final long auditFrom;
  private final java.util.concurrent.atomic.AtomicInteger markers =
      new java.util.concurrent.atomic.AtomicInteger();
  private final ExecutorService work =
      Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "real-cluster-kubelet");
        t.setDaemon(true);
        return t;
      });

  /**
   * The namespace {@code namespace} on this JVM's control plane, emptied, with the worker's
   * ServiceAccount and deploy/rbac.yaml's Role.
   *
   * @throws IllegalStateException when the control plane is not built (callers check first with
   *     {@link Required#tool} and {@link #available})
   */
  public RealCluster(String namespace) {
    this.cp = KubeControlPlane.shared();
    if (cp == null) {
      throw new IllegalStateException(
          "the Kubernetes control plane is not built (bin/ensure-kube)");
    }
    this.namespace = namespace;
    this.admin = cp.admin();
    this.broker = cp.broker();
    broker.reset();
    this.instances = new CnpgInstances(broker);
    this.auditFrom = auditLines().size();
    if (admin.namespaces().withName(namespace).get() == null) {
      admin
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .create();
    }
    empty();
    applyWorkerRole(admin, namespace, List.of());
    this.workerKubeconfig = cp.serviceAccountKubeconfig(namespace, "opschain-db-upgrade");
    this.worker = KubeControlPlane.client(workerKubeconfig);
    this.scratch = new ScratchPods(broker);
    this.shortLived =
        new ShortLivedPods(
            new ShortLivedPods.Reports() {
              @Override
              public void status(
                  String ns, String name, io.fabric8.kubernetes.api.model.PodStatus st) {
                admin
                    .pods()
                    .inNamespace(ns)
                    .withName(name)
                    .editStatus(p -> {
                      p.setStatus(st);
                      return p;
                    });
              }

              @Override
              public void log(String ns, String name, String text) {
                cp.podLog(ns, name, text);
              }
            });
    broker.onUnbound((ns, pod) -> {
      Pod p = admin.pods().inNamespace(ns).withName(pod).get();
      if (p != null && scratch.handles(p)) {
        scratch.start(p);
      }
    });
    watches.add(admin.pods().inNamespace(namespace).watch(kubelet()));
    watches.add(admin.apps().deployments().inNamespace(namespace).watch(restartsSeen()));
  }

  /**
   * CNPG's Cluster controller for this namespace ({@link CnpgController}), started on first use and
   * stopped on close; with {@link #installCnpgOperator} the cluster then behaves as one with CNPG
   * v1.30.0 installed.
   */
  public synchronized CnpgController cnpg() {
    if (cnpg == null) {
      cnpg = new CnpgController(admin, cp, namespace, volumes, instances);
    }
    return cnpg;
  }

  /** The registry has no such image: a pod of it stays Pending in ErrImagePull/ImagePullBackOff. */
  public void missingImage(String image) {
    shortLived.missingImage(image);
  }

  /** Pulling {@code image} takes {@code time}: a short-lived pod of it stays Pending that long. */
  public void imagePullTakes(String image, Duration time) {
    shortLived.pullTakes(image, time);
  }

  /** True when this machine can run the control plane (bin/ensure-kube built it). */
  public static boolean available() {
    return KubeControlPlane.shared() != null;
  }

  public String namespace() {
    return namespace;
  }

  /** The cluster's admin (system:masters): for fixtures, never for the code under test. */
  public KubernetesClient client() {
    return admin;
  }

  /** The worker's ServiceAccount, bound to deploy/rbac.yaml's Role: the code under test's. */
  public KubernetesClient activityClient() {
    return worker;
  }

  /** The kubeconfig of {@link #activityClient}'s ServiceAccount (for the helm binary). */
  public Path activityKubeconfig() {
    return workerKubeconfig;
  }

  public ExecBroker broker() {
    return broker;
  }

  /**
   * A bare pod {@code name} with {@code labels}, Running (kwok); its exec reaches the local
   * PostgreSQL on {@code postgresPort} where it says 127.0.0.1:5432 (0: plain local commands).
   */
  public void runPod(String ns, String name, Map<String, String> labels, int postgresPort) {
    bindExec(ns, name, postgresPort);
    admin
        .pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(labels)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("registry.invalid/" + name + ":1")
                .endContainer()
                .endSpec()
                .build())
        .create();
    await(
        "pod " + ns + "/" + name + " Running",
        Duration.ofSeconds(60),
        () -> {
          Pod p = admin.pods().inNamespace(ns).withName(name).get();
          return p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase());
        });
  }

  /** Waits until a pod labelled {@code label=value} runs; its name. */
  public String awaitRunning(String ns, String label, String value) {
    String[] name = new String[1];
    await(
        "a Running pod " + label + "=" + value + " in " + ns,
        Duration.ofSeconds(60),
        () -> {
          for (Pod p : admin.pods().inNamespace(ns).withLabel(label, value).list().getItems()) {
            if (p.getStatus() != null && "Running".equals(p.getStatus().getPhase())) {
              name[0] = p.getMetadata().getName();
              return true;
            }
          }
          return false;
        });
    return name[0];
  }

  /** Exec into the pod {@code name} (existing or future) runs local processes. */
  public void bindExec(String ns, String name, int postgresPort) {
    broker.bindPod(ns, name, postgresPort);
  }

  /**
   * Exec into this CNPG instance pod runs local commands with {@code PGHOST} and {@code PGPORT}
   * pointing at the local PostgreSQL on {@code port}, as CNPG sets them in the postgres container
   * (cloudnative-pg pkg/specs/pods.go), so a plain {@code psql -U postgres} connects as in the pod.
   */
  public void cnpgInstanceServes(String ns, String pod, int port) {
    CnpgInstances.serves(broker, ns, pod, port);
  }

  /**
   * The data volume of CNPG cluster {@code cluster} is {@code pgdata}: when its instance pod runs,
   * PostgreSQL runs on it (a manual restore writes there), and stops when the pod goes.
   */
  public void cnpgDataAt(String ns, String cluster, Path pgdata) {
    instances.dataAt(ns, cluster, pgdata);
  }

  /** The PostgreSQL the cluster's instance pod serves from its volume, or null. */
  public LocalPostgres cnpgInstance(String ns, String cluster) {
    return instances.running(ns, cluster);
  }

  /** The pods of this Deployment reach the local PostgreSQL on {@code port}. */
  public void postgresFor(String ns, String deployment, int port) {
    broker.bindDeployment(ns, deployment, port);
  }

  /**
   * A PersistentVolume {@code pv} bound ahead to claim {@code ns/claim} (its claimRef), as a
   * storage provisioner makes one; created, or left as it is when there.
   */
  static void boundAhead(KubernetesClient admin, String ns, String claim, String pv) {
    admin
        .persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .withCapacity(Map.of("storage", new Quantity("10Gi")))
                .withAccessModes("ReadWriteOnce")
                .withStorageClassName("")
                .withNewHostPath()
                .withPath("/tmp/" + pv)
                .endHostPath()
                .withNewClaimRef()
                .withNamespace(ns)
                .withName(claim)
                .endClaimRef()
                .endSpec()
                .build())
        .createOr(io.fabric8.kubernetes.client.dsl.NonDeletingOperation::update);
  }

  /**
   * A PersistentVolumeClaim {@code name} and a PersistentVolume bound to it ahead (its claimRef),
   * as a storage provisioner would make: a pod that mounts the claim can then be scheduled.
   */
  public void dataVolume(String ns, String name) {
    String pv = "pv-" + ns + "-" + name;
    boundAhead(admin, ns, name, pv);
    volumes.add(pv);
    admin
        .persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteOnce")
                .withStorageClassName("")
                .withVolumeName(pv)
                .withNewResources()
                .withRequests(Map.of("storage", new Quantity("10Gi")))
                .endResources()
                .endSpec()
                .build())
        .create();
    await(
        "claim " + ns + "/" + name + " Bound",
        Duration.ofSeconds(60),
        () -> {
          var c = admin.persistentVolumeClaims().inNamespace(ns).withName(name).get();
          return c != null && c.getStatus() != null && "Bound".equals(c.getStatus().getPhase());
        });
  }

  /**
   * The {@code nth} exec whose command line (argv joined by spaces) matches {@code regex} loses its
   * stdout after {@code bytes} and still reports exit code 0 (the known {@code kubectl cp}
   * failure).
   */
  public void cutExecStream(String regex, int nth, long bytes) {
    broker.cutExecStream(regex, nth, bytes);
  }

  public void slowExec(String regex, Duration delay) {
    broker.slowExec(regex, delay);
  }

  public void slowExecOnce(String regex, Duration delay) {
    broker.slowExecOnce(regex, delay);
  }

  public ClusterInABox.Paused pauseExec(String regex, Duration after) {
    return broker.pauseExec(regex, after, 0);
  }

  public ClusterInABox.Paused pauseExec(String regex, Duration after, int skip) {
    return broker.pauseExec(regex, after, skip);
  }

  public void afterExec(String regex, Consumer<List<String>> effect) {
    broker.afterExec(regex, effect);
  }

  /**
   * Every command run in a pod so far, in the order they were asked for. kwok runs them all, so who
   * asked is read from the audit log: a command in a pod the worker's ServiceAccount opened an exec
   * into carries {@link ClusterInABox#ACTIVITY_AGENT}, as on the mock API server.
   */
  public List<PodCommand> podCommands() {
    List<PodCommand> all = broker.podCommands();
    if (all.isEmpty()) {
      return all;
    }
    Set<String> execed = new java.util.HashSet<>();
    for (Audited a : activityAudit()) {
      var m =
          java.util.regex.Pattern.compile("/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec\\b.*")
              .matcher(a.uri());
      if (a.verb().equals("create") || a.verb().equals("get")) {
        if (m.matches()) {
          execed.add(m.group(1) + "/" + m.group(2));
        }
      }
    }
    return all.stream()
        .map(c ->
            execed.contains(c.namespace() + "/" + c.pod())
                ? c.asSentBy(ClusterInABox.ACTIVITY_AGENT)
                : c)
        .toList();
  }

  /** Every import pod of the CNPG Cluster fails with {@code log} ({@link CnpgController}). */
  public void importFails(String log) {
    cnpg().importFails(log);
  }

  /** The first import pod fails with {@code log}; the Job's next pod succeeds. */
  public void importFailsOnce(String log) {
    cnpg().importFailsOnce(log);
  }

  /** What the import pod does (CNPG's pg_dump -Fd and pg_restore); a failure fails the pod. */
  public void onImport(Runnable importer) {
    cnpg().onImport(importer);
  }

  /**
   * Waits until the cluster is up as an upgrade's preflight expects it: the CNPG operator and each
   * of {@code deployments} in {@code ns} with every replica ready (as {@link
   * ClusterInABox#awaitReady}).
   */
  public void awaitReady(String ns, List<String> deployments, Duration timeout) {
    if (operatorInstalled) {
      awaitDeploymentReady("cnpg-system", "cnpg-controller-manager");
    }
    for (String d : deployments) {
      awaitDeploymentReady(ns, d);
    }
  }

  /** As {@link ClusterInABox#maxConcurrent}. */
  public int maxConcurrent(String regex) {
    return broker.maxConcurrent(regex);
  }

  /** Pods with an emptyDir that exist: their scratch space is still on disk (none when clean). */
  public Set<String> scratchPodsLeft() {
    return scratch.live();
  }

  /**
   * How many times {@code deployment} was restarted since this cluster was made: the distinct
   * {@code kubectl.kubernetes.io/restartedAt} values its pod template carried ({@code kubectl
   * rollout restart} sets it; the Deployment controller rolls the pods for each new value).
   */
  public int restarts(String ns, String deployment) {
    return restartedAt.getOrDefault(ns + "/" + deployment, Set.of()).size();
  }

  /**
   * Every request the code under test (the worker's ServiceAccount, not its helm) made since this
   * cluster was made, from the API server's audit log, as {@code VERB URI}.
   */
  public List<String> activityRequests() {
    return activityAudit().stream().map(e -> e.verb() + " " + e.uri()).toList();
  }

  /**
   * The {@link #activityRequests} as {@link ClusterInABox.ApiCall}s, for the checks written for the
   * mock API server: the HTTP method of each verb (Kubernetes' request info, in reverse: create is
   * POST, update PUT, get, list and watch GET), the agent {@link ClusterInABox#ACTIVITY_AGENT}, and
   * when the API server received it.
   */
  public List<ClusterInABox.ApiCall> apiCalls() {
    return activityAudit().stream()
        .map(e ->
            new ClusterInABox.ApiCall(
                switch (e.verb()) {
                  case "create" -> "POST";
                  case "update" -> "PUT";
                  case "patch" -> "PATCH";
                  case "delete", "deletecollection" -> "DELETE";
                  default -> "GET";
                },
                e.uri(),
                ClusterInABox.ACTIVITY_AGENT,
                e.atMillis()))
        .toList();
  }

  /** One audited request of the worker's ServiceAccount. */
  private record Audited(String verb, String uri, long atMillis) {}

  private List<Audited> activityAudit() {
    String user = "system:serviceaccount:" + namespace + ":opschain-db-upgrade";
    String marker = "audit-marker-" + markers.incrementAndGet();
    // The log is written as requests complete: a request of ours made now and seen in the log
    // means every earlier one is there too.
    try {
      worker.configMaps().inNamespace(namespace).withName(marker).get();
    } catch (io.fabric8.kubernetes.client.KubernetesClientException forbidden) {
      // configmaps are not in the Role: the 403 is logged all the same
    }
    List<Audited> out = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      out.clear();
      boolean seen = false;
      List<String> lines = auditLines();
      for (String line : lines.subList((int) Math.min(auditFrom, lines.size()), lines.size())) {
        var e = JSON.readTree(line);
        if (!user.equals(e.path("user").path("username").asString())) {
          continue;
        }
        String uri = e.path("requestURI").asString();
        if (uri.contains(marker)) {
          seen = true;
        } else if (!uri.contains("/configmaps/audit-marker-")
            // The worker's helm runs as the same ServiceAccount, with deploy/rbac-helm.yaml's
            // rights: its requests (user agent "Helm/<version>") are not the activities'.
            && !e.path("userAgent").asString("").startsWith("Helm/")) {
          out.add(
              new Audited(
                  e.path("verb").asString(),
                  uri,
                  java.time.Instant.parse(e.path("requestReceivedTimestamp").asString())
                      .toEpochMilli()));
        }
      }
      if (seen) {
        return out;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "the audit log did not show " + marker + " within 10 s: the requests read are not all");
      }
      sleep(50);
    }
  }

  /**
   * The {@link #activityRequests} that change something: create, update, patch, delete; not a
   * server-side dry run ({@code dryRun=All}) nor an access review (a question, made with create).
   */
  public List<String> activityMutations() {
    return activityRequests().stream()
        .filter(r -> r.matches("(create|update|patch|delete|deletecollection) .*"))
        .filter(r -> !r.contains("dryRun=All"))
        .filter(r ->
            !r.contains("/selfsubjectaccessreviews") && !r.contains("/selfsubjectrulesreviews"))
        .toList();
  }

  /** Waits until the Deployment reports all its replicas ready (its controller has counted). */
  public void awaitDeploymentReady(String ns, String name) {
    await(
        "deployment " + ns + "/" + name + " ready",
        Duration.ofSeconds(60),
        () -> {
          var d = admin.apps().deployments().inNamespace(ns).withName(name).get();
          return d != null
              && d.getStatus() != null
              && d.getStatus().getReadyReplicas() != null
              && d.getStatus().getReadyReplicas().equals(d.getSpec().getReplicas());
        });
  }

  /**
   * The worker's Role in this namespace no longer grants {@code verb} on {@code resource} (as
   * written in the Role: {@code deployments}, {@code pods/exec}); waits until the API server says
   * so.
   */
  public void deny(String verb, String resource) {
    var role = admin.rbac().roles().inNamespace(namespace).withName("opschain-db-upgrade").get();
    List<io.fabric8.kubernetes.api.model.rbac.PolicyRule> rules = new ArrayList<>();
    String group = null;
    for (var rule : role.getRules()) {
      if (!rule.getResources().contains(resource)) {
        rules.add(rule);
        continue;
      }
      group = rule.getApiGroups().get(0);
      var rest = new ArrayList<>(rule.getResources());
      rest.remove(resource);
      if (!rest.isEmpty()) {
        rules.add(
            new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder(rule)
                .withResources(rest)
                .build());
      }
      var verbs = new ArrayList<>(rule.getVerbs());
      verbs.remove(verb);
      if (!verbs.isEmpty()) {
        rules.add(
            new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder(rule)
                .withResources(List.of(resource))
                .withVerbs(verbs)
                .build());
      }
    }
    if (group == null) {
      throw new IllegalArgumentException("the worker's Role has no rule for " + resource);
    }
    String apiGroup = group;
    role.setRules(rules);
    admin.rbac().roles().inNamespace(namespace).resource(role).update();
    String[] groupResource = resource.split("/", 2);
    await(
        "the Role to refuse " + verb + " " + resource,
        Duration.ofSeconds(30),
        () ->
            !Boolean.TRUE.equals(
                worker
                    .authorization()
                    .v1()
                    .selfSubjectAccessReview()
                    .create(
                        new io.fabric8.kubernetes.api.model.authorization.v1
                                .SelfSubjectAccessReviewBuilder()
                            .withNewSpec()
                            .withNewResourceAttributes()
                            .withNamespace(namespace)
                            .withVerb(verb)
                            .withResource(groupResource[0])
                            .withSubresource(groupResource.length > 1 ? groupResource[1] : null)
                            .withGroup(apiGroup)
                            .endResourceAttributes()
                            .endSpec()
                            .build())
                    .getStatus()
                    .getAllowed()));
  }

  /**
   * The CNPG operator as its release manifest installs it ({@link CnpgOperatorInstalls}): the
   * {@code clusters.postgresql.cnpg.io} CRD and the Deployment {@code cnpg-system/
   * cnpg-controller-manager}, whose pod kwok runs. Kept between tests (it is cluster-wide).
   */
  public void installCnpgOperator() {
    operatorInstalled = true;
    CnpgOperatorInstalls.registerCrd(admin, true);
    await(
        "the Cluster CRD served",
        Duration.ofSeconds(30),
        () -> {
          try {
            admin
                .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
                .inNamespace(namespace)
                .list();
            return true;
          } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            return false;
          }
        });
    if (admin
            .apps()
            .deployments()
            .inNamespace("cnpg-system")
            .withName("cnpg-controller-manager")
            .get()
        == null) {
      CnpgOperatorInstalls.manifest(admin);
    }
  }

  /**
   * A CNPG Cluster {@code cluster} (the object only: no controller acts on it) and the data PVC of
   * its instance {@code serial} as the operator makes it ({@link CnpgPvcs}), owned by it through
   * its real uid; the PVC stays unbound (no StorageClass). Returns the PVC.
   */
  public io.fabric8.kubernetes.api.model.PersistentVolumeClaim cnpgDataPvc(
      String ns, String cluster, int serial) {
    CnpgOperatorInstalls.registerCrd(admin, true);
    // By its definition, not discovery: the client's discovery may predate the CRD.
    var clusters =
        admin.genericKubernetesResources(
            new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
                .withGroup("postgresql.cnpg.io")
                .withVersion("v1")
                .withKind("Cluster")
                .withPlural("clusters")
                .withNamespaced(true)
                .build());
    await(
        "the Cluster CRD served",
        Duration.ofSeconds(30),
        () -> {
          try {
            clusters.inNamespace(ns).list();
            return true;
          } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            return false;
          }
        });
    var existing = clusters.inNamespace(ns).withName(cluster).get();
    if (existing == null) {
      existing =
          clusters
              .inNamespace(ns)
              .resource(
                  new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
                      .withApiVersion("postgresql.cnpg.io/v1")
                      .withKind("Cluster")
                      .withNewMetadata()
                      .withName(cluster)
                      .withNamespace(ns)
                      .endMetadata()
                      .addToAdditionalProperties("spec", Map.of("instances", 1))
                      .build())
              .create();
    }
    return admin
        .persistentVolumeClaims()
        .inNamespace(ns)
        .resource(CnpgPvcs.dataPvc(ns, cluster, serial, existing.getMetadata().getUid()))
        .create();
  }

  /**
   * The CNPG operator as {@code helm install <release> -n <namespace> cnpg/cloudnative-pg} makes
   * it; removed when this cluster is closed.
   */
  public void installCnpgOperatorChart(String release, String ns) {
    CnpgOperatorInstalls.registerCrd(admin, true);
    CnpgOperatorInstalls.chart(admin, release, ns);
    operators.add(
        new String[] {
          ns,
          release.contains(CnpgOperatorInstalls.CHART)
              ? release
              : release + "-" + CnpgOperatorInstalls.CHART
        });
  }

  /**
   * deploy/rbac.yaml in {@code ns}, as the README applies it, without the rules for the resources
   * in {@code drop} (created, or updated when there).
   */
  public static void applyWorkerRole(KubernetesClient admin, String ns, List<String> drop) {
    applyRole(admin, ns, "deploy/rbac.yaml", drop);
  }

  /**
   * A manifest of the checkout ({@code deploy/rbac.yaml}, {@code deploy/rbac-helm.yaml}) in {@code
   * ns}, as {@code kubectl apply -n <ns> -f} does, without the Role rules for the resources in
   * {@code drop}.
   */
  public static void applyRole(
      KubernetesClient admin, String ns, String manifest, List<String> drop) {
    try (InputStream in = Files.newInputStream(BuiltTools.projectRoot().resolve(manifest))) {
      for (HasMetadata o : admin.load(in).items()) {
        if (o instanceof io.fabric8.kubernetes.api.model.rbac.Role role) {
          role.getRules().removeIf(rule -> rule.getResources().stream().anyMatch(drop::contains));
        }
        o.getMetadata().setNamespace(ns);
        admin.resource(o).inNamespace(ns).createOr(x -> x.update());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final tools.jackson.databind.ObjectMapper JSON =
      tools.jackson.databind.json.JsonMapper.builder().build();

  private List<String> auditLines() {
    try {
      return Files.exists(cp.audit()) ? Files.readAllLines(cp.audit()) : List.of();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Watcher<io.fabric8.kubernetes.api.model.apps.Deployment> restartsSeen() {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, io.fabric8.kubernetes.api.model.apps.Deployment d) {
        var annotations = d.getSpec().getTemplate().getMetadata().getAnnotations();
        String at =
            annotations == null ? null : annotations.get("kubectl.kubernetes.io/restartedAt");
        if (at != null) {
          restartedAt
              .computeIfAbsent(
                  d.getMetadata().getNamespace() + "/" + d.getMetadata().getName(),
                  k -> java.util.concurrent.ConcurrentHashMap.newKeySet())
              .add(at);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Scratch pods get their directories when created and lose them when deleted. */
  private Watcher<Pod> kubelet() {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        if (action == Action.DELETED) {
          work.submit(() -> scratch.stop(pod));
        } else if (action == Action.ADDED && scratch.handles(pod)) {
          work.submit(() -> scratch.start(pod));
        }
        // The kubelet runs a pod once the scheduler has bound it to its node.
        if (action != Action.DELETED
            && ShortLivedPods.handles(pod)
            && pod.getMetadata().getLabels() != null
            && ShortLivedPods.COMPONENT.equals(
                pod.getMetadata().getLabels().get("app.kubernetes.io/component"))
            && pod.getSpec().getNodeName() != null
            && pod.getMetadata().getDeletionTimestamp() == null) {
          shortLived.start(pod);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }

  /**
   * Deletes every workload, pod, claim, Helm release record and CNPG Cluster of the namespace and
   * waits until the pods are gone.
   */
  private void empty() {
    admin.secrets().inNamespace(namespace).withLabel("owner", "helm").delete();
    try {
      admin
          .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
          .inNamespace(namespace)
          .delete();
    } catch (io.fabric8.kubernetes.client.KubernetesClientException noCrdYet) {
      // the CRD is not installed: no Cluster to delete
    }
    admin.apps().deployments().inNamespace(namespace).delete();
    admin.apps().statefulSets().inNamespace(namespace).delete();
    admin.batch().v1().jobs().inNamespace(namespace).delete();
    admin.pods().inNamespace(namespace).withGracePeriod(0).delete();
    admin.persistentVolumeClaims().inNamespace(namespace).delete();
    await(
        "namespace " + namespace + " empty",
        Duration.ofSeconds(60),
        () -> admin.pods().inNamespace(namespace).list().getItems().isEmpty());
  }

  @Override
  public void close() {
    watches.forEach(Watch::close);
    synchronized (this) {
      if (cnpg != null) {
        cnpg.close();
      }
    }
    instances.close();
    empty();
    for (String pv : volumes) {
      admin.persistentVolumes().withName(pv).delete();
    }
    for (String[] o : operators) {
      admin.apps().deployments().inNamespace(o[0]).withName(o[1]).withGracePeriod(0).delete();
    }
    // The manifest's operator, should a test of this cluster have removed it, is back for the
    // next one.
    if (operatorInstalled) {
      installCnpgOperator();
    }
    scratch.close();
    work.shutdown();
    broker.reset();
    worker.close();
  }

  private static void await(String what, Duration timeout, BooleanSupplier done) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out waiting for " + what);
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
  }
}
