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
  private final ExecBroker broker;
  private final ScratchPods scratch;
  private final List<Watch> watches = new ArrayList<>();
  private final List<String> volumes = new ArrayList<>();
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
    if (admin.namespaces().withName(namespace).get() == null) {
      admin
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .create();
    }
    empty();
    applyWorkerRole(admin, namespace, List.of());
    this.worker =
        KubeControlPlane.client(cp.serviceAccountKubeconfig(namespace, "opschain-db-upgrade"));
    this.scratch = new ScratchPods(broker);
    broker.onUnbound((ns, pod) -> {
      Pod p = admin.pods().inNamespace(ns).withName(pod).get();
      if (p != null && scratch.handles(p)) {
        scratch.start(p);
      }
    });
    watches.add(admin.pods().inNamespace(namespace).watch(kubelet()));
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
    broker.bindPod(
        ns,
        new PodRuntime(pod, 0, Map.of("PGHOST", "127.0.0.1", "PGPORT", Integer.toString(port))));
  }

  /** The pods of this Deployment reach the local PostgreSQL on {@code port}. */
  public void postgresFor(String ns, String deployment, int port) {
    broker.bindDeployment(ns, deployment, port);
  }

  /**
   * A PersistentVolumeClaim {@code name} and a PersistentVolume bound to it ahead (its claimRef),
   * as a storage provisioner would make: a pod that mounts the claim can then be scheduled.
   */
  public void dataVolume(String ns, String name) {
    String pv = "pv-" + ns + "-" + name;
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
                .withName(name)
                .endClaimRef()
                .endSpec()
                .build())
        .create();
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

  /** Every command run in a pod so far, in the order they were asked for. */
  public List<PodCommand> podCommands() {
    return broker.podCommands();
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
   * deploy/rbac.yaml in {@code ns}, as the README applies it, without the rules for the resources
   * in {@code drop} (created, or updated when there).
   */
  public static void applyWorkerRole(KubernetesClient admin, String ns, List<String> drop) {
    try (InputStream in =
        Files.newInputStream(BuiltTools.projectRoot().resolve("deploy/rbac.yaml"))) {
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
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }

  /** Deletes every workload, pod and claim of the namespace and waits until the pods are gone. */
  private void empty() {
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
    empty();
    for (String pv : volumes) {
      admin.persistentVolumes().withName(pv).delete();
    }
    for (String left : scratch.live()) {
      String[] nsPod = left.split("/", 2);
      scratch.stop(
          new PodBuilder()
              .withNewMetadata()
              .withNamespace(nsPod[0])
              .withName(nsPod[1])
              .endMetadata()
              .build());
    }
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
