package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Small controllers that react as Kubernetes, the OpsChain chart and CloudNativePG would:
 * deployments get (or lose) Running pods and a status; a changed restartedAt annotation restarts
 * the pods; statefulsets report their replicas; a CNPG Cluster runs its import pod (which succeeds
 * or fails as the test says), then an instance pod, and reports healthy; hibernation removes its
 * pods.
 */
final class Controllers implements AutoCloseable {
  static final String CNPG_API = "postgresql.cnpg.io/v1";
  static final String HEALTHY = "Cluster in healthy state";
  static final String SETTING_UP = "Setting up primary";

  private final KubernetesClient client;
  private final ClusterInABox box;
  private final List<Watch> watches = new ArrayList<>();
  private final Map<String, String> lastRestart = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> restarts = new ConcurrentHashMap<>();
  private final Map<String, Integer> dbPorts = new ConcurrentHashMap<>();
  private volatile int importFailures;
  private volatile Runnable importer = () -> {};
  private volatile String importFailureLog = "ERROR: import failed";
  private final AtomicInteger podSerial = new AtomicInteger();

  /** Where import Jobs run, beside the controllers (a real Job's pod runs on a node). */
  private final java.util.concurrent.ExecutorService jobs =
      java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "harness-import-job");
        t.setDaemon(true);
        return t;
      });

  private volatile java.time.Duration podGrace = java.time.Duration.ZERO;

  Controllers(KubernetesClient client, ClusterInABox box) {
    this.client = client;
    this.box = box;
    watches.add(
        client
            .apps()
            .deployments()
            .inAnyNamespace()
            .watch(on(d -> enqueue("deployment", d.getMetadata()))));
    watches.add(
        client
            .apps()
            .statefulSets()
            .inAnyNamespace()
            .watch(on(d -> enqueue("statefulset", d.getMetadata()))));
    watches.add(
        client
            .genericKubernetesResources(CNPG_API, "Cluster")
            .inAnyNamespace()
            .watch(on(d -> enqueue("cluster", d.getMetadata()))));
  }

  /**
   * The work queue, as real controllers have: each event enqueues its object's key; one thread
   * reconciles the latest state of that object, and a failed reconcile (a conflict, say) is retried
   * shortly, so no event is lost.
   */
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Controllers.class);

  private final java.util.concurrent.ScheduledExecutorService queue =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "harness-controllers");
        t.setDaemon(true);
        return t;
      });

  private void enqueue(String kind, io.fabric8.kubernetes.api.model.ObjectMeta meta) {
    submit(kind, meta.getNamespace(), meta.getName(), 0);
  }

  private void submit(String kind, String ns, String name, int attempt) {
    if (queue.isShutdown()) {
      return;
    }
    queue.schedule(
        () -> {
          try {
            switch (kind) {
              case "deployment" -> {
                Deployment d = client.apps().deployments().inNamespace(ns).withName(name).get();
                if (d != null) {
                  reconcile(d);
                }
              }
              case "statefulset" -> {
                StatefulSet st = client.apps().statefulSets().inNamespace(ns).withName(name).get();
                if (st != null) {
                  reconcile(st);
                }
              }
              default -> {
                GenericKubernetesResource c =
                    client
                        .genericKubernetesResources(CNPG_API, "Cluster")
                        .inNamespace(ns)
                        .withName(name)
                        .get();
                if (c != null) {
                  reconcile(c);
                }
              }
            }
          } catch (RuntimeException e) {
            // Never given up, as client-go's workqueue (DefaultControllerRateLimiter) requeues.
            if (attempt % 20 == 0) {
              LOG.warn("reconcile {} {}/{} failed (attempt {}): {}", kind, ns, name, attempt, e);
            }
            submit(kind, ns, name, attempt + 1);
          }
        },
        attempt == 0 ? 0 : Math.min(1000, 50L << Math.min(attempt - 1, 5)),
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Pods of this deployment run exec against the local PostgreSQL on {@code port}. */
  void postgresFor(String namespace, String deployment, int port) {
    dbPorts.put(namespace + "/" + deployment, port);
  }

  /** What the import pod does (CNPG's pg_dump -Fd and pg_restore); a failure fails the pod. */
  void onImport(Runnable importer) {
    this.importer = importer;
  }

  void importFails(boolean fails, String log) {
    importFailures = fails ? Integer.MAX_VALUE : 0;
    importFailureLog = log;
  }

  /** The import's first pod fails with this log; the Job's retry succeeds. */
  void importFailsOnce(String log) {
    importFailures = 1;
    importFailureLog = log;
  }

  /** The harness's import Job retries a failed pod this many times before it fails. */
  static final int IMPORT_BACKOFF_LIMIT = 1;

  /**
   * How long a pod of a scaled-down deployment stays Terminating: Kubernetes sets deletionTimestamp
   * at once and removes the pod after the kubelet stopped it, up to terminationGracePeriodSeconds
   * ("Termination of Pods"); FilterActivePods (pkg/controller/controller_utils.go) no longer counts
   * it, so the deployment reports 0 replicas while the pod still holds its volume.
   */
  void podGrace(java.time.Duration grace) {
    podGrace = grace;
  }

  int restarts(String namespace, String deployment) {
    return restarts.getOrDefault(namespace + "/" + deployment, new AtomicInteger()).get();
  }

  private synchronized void reconcile(Deployment d) {
    String ns = d.getMetadata().getNamespace();
    String name = d.getMetadata().getName();
    Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
    int desired = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
    String key = ns + "/" + name;
    Map<String, String> annotations = d.getSpec().getTemplate().getMetadata().getAnnotations();
    String restartedAt =
        annotations == null ? null : annotations.get("kubectl.kubernetes.io/restartedAt");
    List<Pod> pods =
        client.pods().inNamespace(ns).withLabels(labels).list().getItems().stream()
            .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
            .toList();
    if (restartedAt != null && !restartedAt.equals(lastRestart.put(key, restartedAt))) {
      restarts.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
      pods.forEach(p -> client.pods().inNamespace(ns).withName(p.getMetadata().getName()).delete());
      pods = List.of();
    }
    boolean answers = PodStates.databaseAnswers(client, ns, d);
    for (int i = pods.size(); i < desired; i++) {
      String pod = name + "-" + Integer.toHexString(0x10000 + podSerial.incrementAndGet());
      box.bindExec(ns, pod, dbPorts.getOrDefault(key, 0));
      Pod p = PodStates.runningPod(ns, pod, labels);
      p.getStatus().getConditions().get(0).setStatus(answers ? "True" : "False");
      client.pods().inNamespace(ns).resource(p).create();
    }
    for (int i = desired; i < pods.size(); i++) {
      terminate(ns, pods.get(i).getMetadata().getName());
    }
    for (Pod p : pods.subList(0, Math.min(desired, pods.size()))) {
      if (PodStates.ready(p) != answers) {
        client
            .pods()
            .inNamespace(ns)
            .withName(p.getMetadata().getName())
            .edit(x -> {
              x.getStatus().getConditions().get(0).setStatus(answers ? "True" : "False");
              return x;
            });
      }
    }
    int readyNow = answers ? desired : 0;
    var st = d.getStatus();
    boolean same =
        st != null
            && Objects.equals(st.getReplicas(), desired)
            && Objects.equals(st.getReadyReplicas(), readyNow)
            && Objects.equals(st.getObservedGeneration(), d.getMetadata().getGeneration());
    if (!same) {
      client
          .apps()
          .deployments()
          .inNamespace(ns)
          .withName(name)
          .edit(x -> {
            x.setStatus(
                new io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder()
                    .withReplicas(desired)
                    .withReadyReplicas(readyNow)
                    .withAvailableReplicas(readyNow)
                    .withUpdatedReplicas(desired)
                    .withObservedGeneration(x.getMetadata().getGeneration())
                    .build());
            return x;
          });
      resyncDeployments(ns);
    }
  }

  /** The database behind some deployments changed: look at every deployment again. */
  private void resyncDeployments(String ns) {
    if (queue.isShutdown()) {
      return;
    }
    queue.schedule(
        () -> {
          try {
            client
                .apps()
                .deployments()
                .inNamespace(ns)
                .list()
                .getItems()
                .forEach(x -> submit("deployment", ns, x.getMetadata().getName(), 0));
          } catch (RuntimeException e) {
            // the next change resyncs again
          }
        },
        20,
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Deletes the pod, after podGrace in the Terminating state when one is set. */
  private void terminate(String ns, String pod) {
    PodStates.terminate(client, queue, ns, pod, podGrace);
  }

  private synchronized void reconcile(StatefulSet s) {
    int desired = s.getSpec().getReplicas() == null ? 1 : s.getSpec().getReplicas();
    if (s.getStatus() == null || !Objects.equals(s.getStatus().getReplicas(), desired)) {
      client
          .apps()
          .statefulSets()
          .inNamespace(s.getMetadata().getNamespace())
          .withName(s.getMetadata().getName())
          .edit(x -> {
            x.setStatus(
                new io.fabric8.kubernetes.api.model.apps.StatefulSetStatusBuilder()
                    .withReplicas(desired)
                    .withReadyReplicas(desired)
                    .withAvailableReplicas(desired)
                    .build());
            return x;
          });
    }
  }

  @SuppressWarnings("unchecked")
  private synchronized void reconcile(GenericKubernetesResource c) {
    String ns = c.getMetadata().getNamespace();
    String name = c.getMetadata().getName();
    Map<String, String> selector = Map.of("cnpg.io/cluster", name);
    boolean hibernated =
        "on"
            .equals(
                c.getMetadata().getAnnotations() == null
                    ? null
                    : c.getMetadata().getAnnotations().get("cnpg.io/hibernation"));
    Map<String, Object> spec =
        (Map<String, Object>) c.getAdditionalProperties().getOrDefault("spec", Map.of());
    int instances = spec.get("instances") instanceof Number n ? n.intValue() : 1;
    Map<String, Object> status = (Map<String, Object>) c.getAdditionalProperties().get("status");
    String phase = status == null ? null : (String) status.get("phase");
    var pvcs = client.persistentVolumeClaims().inNamespace(ns);
    if (pvcs.withName(name + "-1").get() == null) {
      pvcs.resource(CnpgPvcs.dataPvc(ns, name, 1))
          .create(); // the instance's volume, kept in hibernation
    }
    if (hibernated) {
      client.pods().inNamespace(ns).withLabels(selector).delete();
      box.instances().stopped(ns, name);
      // CNPG keeps the phase's text and reports hibernation as the condition cnpg.io/hibernation
      // (pkg/reconciler/hibernation/status.go:96-133); the real control plane's CnpgController
      // models the steps before it.
      setStatus(ns, name, phase == null ? SETTING_UP : phase, instances, 0, true);
      return;
    }
    Object bootstrap = spec.get("bootstrap");
    boolean imports =
        bootstrap instanceof Map<?, ?> b
            && b.get("initdb") instanceof Map<?, ?> i
            && i.get("import") != null;
    String job = name + "-1-import";
    if (imports && !HEALTHY.equals(phase)) {
      var j = client.batch().v1().jobs().inNamespace(ns).withName(job).get();
      if (j == null) {
        // CNPG creates the import Job and reports "Setting up primary" until it is done (CNPG
        // api/v1 cluster_types.go PhaseSettingUpPrimary; the Job from pkg/specs/jobs.go).
        CnpgImportJob.create(client, ns, name, job);
        int failures = importFailures;
        String failureLog = importFailureLog;
        Runnable run = importer;
        jobs.execute(() -> {
          CnpgImportJob.runPods(client, box, ns, name, job, failures, failureLog, run);
          submit("cluster", ns, name, 0);
        });
      }
      if (j == null || !CnpgImportJob.complete(j)) {
        if (!SETTING_UP.equals(phase)) {
          setStatus(ns, name, SETTING_UP, instances, 0);
        }
        return;
      }
    }
    if (!HEALTHY.equals(phase)
        || client.pods().inNamespace(ns).withLabels(selector).list().getItems().stream()
            .noneMatch(p -> !"import".equals(p.getMetadata().getLabels().get("cnpg.io/jobRole")))) {
      String pod = name + "-1";
      if (client.pods().inNamespace(ns).withName(pod).get() == null) {
        var primary = PodStates.runningPod(ns, pod, CnpgInstances.primaryLabels(selector));
        client.pods().inNamespace(ns).resource(primary).create();
      }
      box.instances().started(ns, name, pod);
      setStatus(ns, name, HEALTHY, instances, instances);
    }
  }

  private void setStatus(String ns, String name, String phase, int instances, int ready) {
    setStatus(ns, name, phase, instances, ready, false);
  }

  private void setStatus(
      String ns, String name, String phase, int instances, int ready, boolean hibernated) {
    resyncDeployments(ns);
    client
        .genericKubernetesResources(CNPG_API, "Cluster")
        .inNamespace(ns)
        .withName(name)
        .edit(x -> {
          Map<String, Object> st = new HashMap<>();
          st.put("phase", phase);
          st.put("instances", instances);
          st.put("readyInstances", ready);
          if (hibernated) {
            st.put(
                "conditions",
                List.of(
                    Map.of(
                        "type",
                        "cnpg.io/hibernation",
                        "status",
                        "True",
                        "reason",
                        "Hibernated",
                        "message",
                        "Cluster has been hibernated")));
          }
          x.getAdditionalProperties().put("status", st);
          return x;
        });
  }

  private static <T> Watcher<T> on(Consumer<T> enqueue) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, T resource) {
        if (action == Action.ADDED || action == Action.MODIFIED) {
          enqueue.accept(resource);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }

  @Override
  public void close() {
    watches.forEach(Watch::close);
    jobs.shutdownNow();
    queue.shutdownNow();
    try {
      queue.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
