package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * CNPG's Cluster controller on the real API server, for one namespace, modelled on what
 * cloudnative-pg v1.30.0 does (docs/cnpg-behaviour.md has the file and line of each step; "cc" is
 * internal/controller/cluster_controller.go, "cr" cluster_create.go):
 *
 * <ol>
 *   <li>Bootstrap: the data PVC {@code <cluster>-1} annotated {@code cnpg.io/pvcStatus:
 *       initializing} and owned by the Cluster (controller, no blockOwnerDeletion), the phase
 *       {@code Setting up primary}, then one Job {@code <cluster>-1-import} (or {@code -initdb})
 *       with no backoffLimit (the API server defaults 6; the Job controller's back-off is 10 s,
 *       doubling). Its pods are the Job controller's; the harness is their kubelet: an import pod
 *       runs {@link #onImport}, then ends Succeeded or Failed with its log. A Failed Job sets the
 *       phase {@code Cluster is unrecoverable and needs manual intervention} (v1.28.4+,
 *       cc:853-864).
 *   <li>When the Job has succeeded the PVC turns {@code ready} and the instance pod {@code
 *       <cluster>-1} is made ({@code cnpg.io/podRole=instance}, container {@code postgres}); kwok
 *       makes it Ready. Then {@code status.currentPrimary} and the primary's role labels, the phase
 *       {@code Cluster in healthy state} with the conditions Ready and Initialized, and the
 *       completed Job is deleted in the foreground (cluster_cleanup.go:40-52).
 *   <li>Hibernation ({@code cnpg.io/hibernation=on}) only from a healthy cluster: until then the
 *       condition {@code cnpg.io/hibernation} is False/WaitingForHealthy and the bootstrap goes on;
 *       then DeletingPods, WaitingPodsDeletion, and True/Hibernated once no instance pod is left.
 *       The phase keeps its text; the PVC stays. Off: the condition goes and the pod is made again.
 *   <li>Deleting the Cluster is the garbage collector's work (the Cluster has no finalizer).
 * </ol>
 *
 * <p>Not modelled: more than one instance, switchover, backups, the operator's webhooks.
 */
public final class CnpgController implements AutoCloseable {
  public static final String SETTING_UP = "Setting up primary";
  public static final String WAITING = "Waiting for the instances to become active";
  public static final String HEALTHY = "Cluster in healthy state";
  public static final String UNRECOVERABLE =
      "Cluster is unrecoverable and needs manual intervention";
  static final String HIBERNATION = "cnpg.io/hibernation";
  public static final ResourceDefinitionContext CLUSTERS =
      new ResourceDefinitionContext.Builder()
          .withGroup("postgresql.cnpg.io")
          .withVersion("v1")
          .withKind("Cluster")
          .withPlural("clusters")
          .withNamespaced(true)
          .build();

  private final KubernetesClient admin;
  private final KubeControlPlane cp;
  private final String ns;
  private final List<String> volumes;
  private final CnpgInstances instances;
  private final List<Watch> watches = new ArrayList<>();
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "harness-cnpg-controller");
        t.setDaemon(true);
        return t;
      });
  private final Set<String> queued = ConcurrentHashMap.newKeySet();
  private final Set<String> jobPodsStarted = ConcurrentHashMap.newKeySet();
  private final Set<String> instanceUp = ConcurrentHashMap.newKeySet();
  private volatile Runnable importer = () -> {};
  private volatile int importFailures;
  private volatile String importFailureLog = "ERROR: import failed";
  private final java.util.concurrent.atomic.AtomicInteger importAttempts =
      new java.util.concurrent.atomic.AtomicInteger();

  CnpgController(
      KubernetesClient admin,
      KubeControlPlane cp,
      String ns,
      List<String> volumes,
      CnpgInstances instances) {
    this.instances = instances;
    this.admin = admin;
    this.cp = cp;
    this.ns = ns;
    this.volumes = volumes;
    // The owned objects requeue their Cluster (cc:1278-1281).
    watches.add(clusters().watch(on(c -> enqueue(c.getMetadata().getName()))));
    watches.add(
        admin.pods().inNamespace(ns).withLabel("cnpg.io/cluster").watch(on(this::podChanged)));
    watches.add(
        admin
            .batch()
            .v1()
            .jobs()
            .inNamespace(ns)
            .withLabel("cnpg.io/cluster")
            .watch(on(j -> enqueue(j.getMetadata().getLabels().get("cnpg.io/cluster")))));
    // A resync, as controller-runtime's: nothing waits on a lost event.
    loop.scheduleWithFixedDelay(this::resync, 1, 1, TimeUnit.SECONDS);
  }

  /**
   * Every Cluster again, and every Job pod not yet started (a watch that closed loses events); an
   * error here waits for the next round (a scheduled task that throws is never run again).
   */
  private void resync() {
    try {
      clusters().list().getItems().forEach(c -> enqueue(c.getMetadata().getName()));
      admin
          .pods()
          .inNamespace(ns)
          .withLabel("cnpg.io/jobRole")
          .list()
          .getItems()
          .forEach(this::podChanged);
    } catch (RuntimeException e) {
      org.slf4j.LoggerFactory.getLogger(CnpgController.class).debug("resync: {}", e.toString());
    }
  }

  private final List<String> importPodEnds = new java.util.concurrent.CopyOnWriteArrayList<>();

  /**
   * How each import pod ended, in order ({@code Failed}, {@code Succeeded}): CNPG deletes the Job
   * and its pods once the cluster is healthy, so the cluster no longer shows them.
   */
  public List<String> importPodEnds() {
    return List.copyOf(importPodEnds);
  }

  /** What the import pod does (CNPG's pg_dump -Fd and pg_restore); a failure fails the pod. */
  public void onImport(Runnable importer) {
    this.importer = importer;
  }

  /** Every import pod fails with this log (the Job retries it until its backoff limit). */
  public void importFails(String log) {
    importFailures = Integer.MAX_VALUE;
    importFailureLog = log;
    importAttempts.set(0);
  }

  /** The first import pod fails with this log; the Job's next pod succeeds. */
  public void importFailsOnce(String log) {
    importFailures = 1;
    importFailureLog = log;
    importAttempts.set(0);
  }

  private NonNamespaceOperation<
          GenericKubernetesResource,
          io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      clusters() {
    return admin.genericKubernetesResources(CLUSTERS).inNamespace(ns);
  }

  private void enqueue(String cluster) {
    if (cluster != null && queued.add(cluster)) {
      loop.execute(() -> {
        queued.remove(cluster);
        try {
          reconcile(cluster);
        } catch (KubernetesClientException e) {
          // A conflict or an object that went meanwhile: the next event or resync retries.
          org.slf4j.LoggerFactory.getLogger(CnpgController.class)
              .debug("reconcile {}: {}", cluster, e.getMessage());
        } catch (RuntimeException e) {
          org.slf4j.LoggerFactory.getLogger(CnpgController.class)
              .warn("reconcile {} failed", cluster, e);
        }
      });
    }
  }

  private void podChanged(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    enqueue(labels.get("cnpg.io/cluster"));
    // The Job's pods: the harness is their kubelet once the scheduler has bound them.
    if (labels.containsKey("cnpg.io/jobRole")
        && pod.getSpec().getNodeName() != null
        && pod.getMetadata().getDeletionTimestamp() == null
        && (pod.getStatus() == null
            || pod.getStatus().getPhase() == null
            || "Pending".equals(pod.getStatus().getPhase()))
        && jobPodsStarted.add(pod.getMetadata().getUid())) {
      Thread.ofVirtual()
          .name("harness-kubelet-" + pod.getMetadata().getName())
          .start(() -> runJobPod(pod));
    }
  }

  @SuppressWarnings("unchecked")
  private void reconcile(String name) {
    GenericKubernetesResource c = clusters().withName(name).get();
    if (c == null || c.getMetadata().getDeletionTimestamp() != null) {
      // The garbage collector removes what it owned; the instance's server stops with its pod.
      if (instanceUp.remove(name + "-1")) {
        instances.stopped(ns, name);
      }
      return;
    }
    Map<String, Object> spec =
        (Map<String, Object>) c.getAdditionalProperties().getOrDefault("spec", Map.of());
    Map<String, Object> status =
        (Map<String, Object>) c.getAdditionalProperties().getOrDefault("status", Map.of());
    String phase = (String) status.get("phase");
    String instance = name + "-1";
    boolean hibernate =
        c.getMetadata().getAnnotations() != null
            && "on".equals(c.getMetadata().getAnnotations().get(HIBERNATION));

    // The hibernation reconciler runs first, on every loop (hibernation/status.go:88-133): not yet
    // healthy and not started is WaitingForHealthy, and the bootstrap goes on; off removes it.
    if (hibernate && !HEALTHY.equals(phase) && !hibernationStarted(status)) {
      writeHibernation(
          name,
          "False",
          "WaitingForHealthy",
          "Waiting for the cluster to be healthy before proceeding with hibernation");
    } else if (!hibernate) {
      editStatus(name, st -> removeCondition(st, HIBERNATION));
    }
    PersistentVolumeClaim pvc =
        admin.persistentVolumeClaims().inNamespace(ns).withName(instance).get();
    if (pvc == null) {
      createPvc(c, instance);
      writeStatus(name, SETTING_UP, "Creating primary instance " + instance, 1, 0);
      return;
    }
    if (pvc.getMetadata().getDeletionTimestamp() != null) {
      return; // v1.30.0 waits for the old PVC to go (pvc/create.go:72-78)
    }
    Map<String, String> pvcAnnotations =
        pvc.getMetadata().getAnnotations() == null ? Map.of() : pvc.getMetadata().getAnnotations();
    if ("initializing".equals(pvcAnnotations.get("cnpg.io/pvcStatus"))) {
      String role = importing(spec) ? "import" : "initdb";
      String jobName = instance + "-" + role;
      Job job = admin.batch().v1().jobs().inNamespace(ns).withName(jobName).get();
      if (job == null) {
        createJob(c, instance, jobName, role, spec);
        return;
      }
      if (condition(job, "Failed")) {
        if (!UNRECOVERABLE.equals(phase)) {
          writeStatus(
              name,
              UNRECOVERABLE,
              "Instance creation failed for the following jobs: "
                  + jobName
                  + ". Check the job logs to investigate the cause of the failure.",
              1,
              0);
        }
        return;
      }
      if (job.getStatus() == null
          || job.getStatus().getSucceeded() == null
          || job.getStatus().getSucceeded() < 1) {
        return; // the loop returns early while the Job runs (cc:866-871)
      }
      admin
          .persistentVolumeClaims()
          .inNamespace(ns)
          .withName(instance)
          .edit(p -> {
            p.getMetadata().getAnnotations().put("cnpg.io/pvcStatus", "ready");
            return p;
          });
      return;
    }

    Pod pod = admin.pods().inNamespace(ns).withName(instance).get();
    // CNPG's instance manager runs PostgreSQL on the volume while the pod runs (CnpgInstances).
    if (pod != null && ready(pod)) {
      if (instanceUp.add(instance)) {
        instances.started(ns, name, instance);
      }
    } else if ((pod == null || pod.getMetadata().getDeletionTimestamp() != null)
        && instanceUp.remove(instance)) {
      instances.stopped(ns, name);
    }
    if (hibernate && (HEALTHY.equals(phase) || hibernationStarted(status))) {
      if (pod != null && pod.getMetadata().getDeletionTimestamp() == null) {
        writeHibernation(name, "False", "DeletingPods", "Hibernation is in progress");
        admin.pods().inNamespace(ns).withName(instance).delete();
      } else if (pod != null) {
        // A terminating pod is not active: readyInstances counts it no more (pvc/status.go:231).
        editStatus(name, st -> st.put("readyInstances", 0));
        writeHibernation(
            name, "False", "WaitingPodsDeletion", "Waiting for " + instance + " to be deleted");
      } else {
        writeHibernation(name, "True", "Hibernated", "Cluster has been hibernated");
      }
      return;
    }
    if (pod == null) {
      admin.pods().inNamespace(ns).resource(instancePod(c, instance, spec)).create();
      writeStatus(name, WAITING, "Some instances are not yet active. Please wait.", 1, 0);
      return;
    }
    if (!ready(pod)) {
      if (!WAITING.equals(phase) && !SETTING_UP.equals(phase)) {
        writeStatus(name, WAITING, "Some instances are not yet active. Please wait.", 1, 0);
      }
      return;
    }
    // The instance manager reports itself primary (instance_startup.go:71-82); the operator then
    // labels the pod (pkg/reconciler/instance/metadata.go:194-200).
    editStatus(name, st -> st.put("currentPrimary", instance));
    if (!"primary".equals(pod.getMetadata().getLabels().get("cnpg.io/instanceRole"))) {
      admin
          .pods()
          .inNamespace(ns)
          .withName(instance)
          .edit(p -> {
            p.getMetadata().getLabels().put("cnpg.io/instanceRole", "primary");
            p.getMetadata().getLabels().put("role", "primary");
            return p;
          });
    }
    // Completed Jobs go once the instances report, in the foreground (cc:945-954), in the loop
    // that then registers the healthy phase (cc:601).
    for (String role : List.of("import", "initdb")) {
      Job j = admin.batch().v1().jobs().inNamespace(ns).withName(instance + "-" + role).get();
      if (j != null && condition(j, "Complete") && j.getMetadata().getDeletionTimestamp() == null) {
        admin
            .batch()
            .v1()
            .jobs()
            .inNamespace(ns)
            .withName(j.getMetadata().getName())
            .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.FOREGROUND)
            .delete();
      }
    }
    if (!HEALTHY.equals(phase)
        || ((Number) status.getOrDefault("readyInstances", 0)).intValue() != 1) {
      writeStatus(name, HEALTHY, "", 1, 1);
    }
  }

  private static boolean importing(Map<String, Object> spec) {
    return spec.get("bootstrap") instanceof Map<?, ?> b
        && b.get("initdb") instanceof Map<?, ?> i
        && i.get("import") != null;
  }

  @SuppressWarnings("unchecked")
  private static boolean hibernationStarted(Map<String, Object> status) {
    Object conditions = status.get("conditions");
    if (!(conditions instanceof List<?> list)) {
      return false;
    }
    return list.stream()
        .map(x -> (Map<String, Object>) x)
        .anyMatch(
            x -> HIBERNATION.equals(x.get("type")) && !"WaitingForHealthy".equals(x.get("reason")));
  }

  private static boolean condition(Job j, String type) {
    return j.getStatus() != null
        && j.getStatus().getConditions() != null
        && j.getStatus().getConditions().stream()
            .anyMatch(x -> type.equals(x.getType()) && "True".equals(x.getStatus()));
  }

  private static boolean ready(Pod p) {
    return p.getMetadata().getDeletionTimestamp() == null
        && p.getStatus() != null
        && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(x -> "Ready".equals(x.getType()) && "True".equals(x.getStatus()));
  }

  private static OwnerReference owner(GenericKubernetesResource c, boolean blockOwnerDeletion) {
    return new OwnerReferenceBuilder()
        .withApiVersion("postgresql.cnpg.io/v1")
        .withKind("Cluster")
        .withName(c.getMetadata().getName())
        .withUid(c.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(blockOwnerDeletion ? Boolean.TRUE : null)
        .build();
  }

  private static Map<String, String> appLabels(String cluster, String instance) {
    Map<String, String> l = new LinkedHashMap<>();
    l.put("cnpg.io/cluster", cluster);
    l.put("cnpg.io/instanceName", instance);
    l.put("app.kubernetes.io/name", "postgresql");
    l.put("app.kubernetes.io/instance", cluster);
    l.put("app.kubernetes.io/component", "database");
    l.put("app.kubernetes.io/managed-by", "cloudnative-pg");
    return l;
  }

  /**
   * The data PVC as CNPG makes it (pvc/calculator.go:123-161, build.go:56-60), and a volume bound
   * to it ahead, as a provisioner would: the Job's and the instance's pods mount it.
   */
  private void createPvc(GenericKubernetesResource c, String instance) {
    String pv = "pv-" + ns + "-" + instance + "-" + c.getMetadata().getUid().substring(0, 8);
    RealCluster.boundAhead(admin, ns, instance, pv);
    if (!volumes.contains(pv)) {
      volumes.add(pv);
    }
    var pvc = CnpgPvcs.dataPvc(ns, c.getMetadata().getName(), 1, c.getMetadata().getUid());
    pvc.getMetadata().getAnnotations().put("cnpg.io/pvcStatus", "initializing");
    pvc.getMetadata().setOwnerReferences(List.of(owner(c, false)));
    pvc.getSpec().setStorageClassName("");
    pvc.getSpec().setVolumeName(pv);
    admin.persistentVolumeClaims().inNamespace(ns).resource(pvc).create();
  }

  /** The bootstrap Job as pkg/specs/jobs.go makes it: no backoffLimit, restartPolicy Never. */
  @SuppressWarnings("unchecked")
  private void createJob(
      GenericKubernetesResource c,
      String instance,
      String job,
      String role,
      Map<String, Object> spec) {
    Map<String, String> labels = appLabels(c.getMetadata().getName(), instance);
    labels.put("cnpg.io/jobRole", role);
    admin
        .batch()
        .v1()
        .jobs()
        .inNamespace(ns)
        .resource(
            new JobBuilder()
                .withNewMetadata()
                .withName(job)
                .withNamespace(ns)
                .withLabels(labels)
                .withOwnerReferences(owner(c, true))
                .endMetadata()
                .withNewSpec()
                .withNewTemplate()
                .withNewMetadata()
                .withLabels(labels)
                .endMetadata()
                .withNewSpec()
                .withRestartPolicy("Never")
                .withHostname(job)
                .addNewContainer()
                .withName(role)
                .withImage(image(spec))
                .withCommand("/controller/manager", "instance", "init")
                .addNewVolumeMount()
                .withName("pgdata")
                .withMountPath("/var/lib/postgresql/data")
                .endVolumeMount()
                .endContainer()
                .addNewVolume()
                .withName("pgdata")
                .withNewPersistentVolumeClaim()
                .withClaimName(instance)
                .endPersistentVolumeClaim()
                .endVolume()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
  }

  private static String image(Map<String, Object> spec) {
    return spec.get("imageName") instanceof String s ? s : "ghcr.io/cloudnative-pg/postgresql:17.5";
  }

  /** The instance pod (pkg/specs/pods.go:78, 132-158, 544-556), owned by the Cluster. */
  private Pod instancePod(GenericKubernetesResource c, String instance, Map<String, Object> spec) {
    Map<String, String> labels = appLabels(c.getMetadata().getName(), instance);
    labels.put("cnpg.io/podRole", "instance");
    return new PodBuilder()
        .withNewMetadata()
        .withName(instance)
        .withNamespace(ns)
        .withLabels(labels)
        .withAnnotations(Map.of("cnpg.io/nodeSerial", "1"))
        .withOwnerReferences(owner(c, true))
        .endMetadata()
        .withNewSpec()
        .withHostname(instance)
        // CNPG sets the Cluster's stopDelay (1800 s by default) here, but its instance manager
        // stops PostgreSQL within seconds of SIGTERM and the kubelet then removes the pod; kwok
        // removes a deleted pod only at its deletionTimestamp, so the harness's grace is as long
        // as that shutdown.
        .withTerminationGracePeriodSeconds(3L)
        .addNewContainer()
        .withName("postgres")
        .withImage(image(spec))
        .withCommand("/controller/manager", "instance", "run")
        .addNewEnv()
        .withName("PGDATA")
        .withValue("/var/lib/postgresql/data/pgdata")
        .endEnv()
        .addNewEnv()
        .withName("PGHOST")
        .withValue("/controller/run")
        .endEnv()
        .addNewEnv()
        .withName("PGPORT")
        .withValue("5432")
        .endEnv()
        .addNewVolumeMount()
        .withName("pgdata")
        .withMountPath("/var/lib/postgresql/data")
        .endVolumeMount()
        .endContainer()
        .addNewVolume()
        .withName("pgdata")
        .withNewPersistentVolumeClaim()
        .withClaimName(instance)
        .endPersistentVolumeClaim()
        .endVolume()
        .endSpec()
        .build();
  }

  /**
   * The phase, its reason, the counts and the Ready and Initialized conditions
   * (cluster_types.go:705-750, pvc/status.go:228-233, status/transactions.go:34-56).
   */
  private void writeStatus(String name, String phase, String reason, int instances, int ready) {
    editStatus(
        name,
        st -> {
          st.put("phase", phase);
          st.put("phaseReason", reason);
          st.put("instances", instances);
          st.put("readyInstances", ready);
          st.put("targetPrimary", name + "-1");
          boolean healthy = HEALTHY.equals(phase);
          setCondition(
              st,
              "Ready",
              healthy ? "True" : "False",
              healthy ? "ClusterIsReady" : "ClusterIsNotReady",
              healthy ? "Cluster is Ready" : "Cluster Is Not Ready");
          if (instances > 0) {
            // internal/controller/cluster_status.go:353-368
            setCondition(
                st, "Initialized", "True", "BootstrapCompleted", "Cluster has been bootstrapped");
          }
        });
  }

  private void writeHibernation(String name, String status, String reason, String message) {
    editStatus(
        name,
        st -> {
          if ("True".equals(status)) {
            st.put("readyInstances", 0);
          }
          setCondition(st, HIBERNATION, status, reason, message);
        });
  }

  @SuppressWarnings("unchecked")
  private void editStatus(String name, java.util.function.Consumer<Map<String, Object>> change) {
    GenericKubernetesResource c = clusters().withName(name).get();
    if (c == null) {
      return;
    }
    Map<String, Object> st =
        new HashMap<>(
            (Map<String, Object>) c.getAdditionalProperties().getOrDefault("status", Map.of()));
    Map<String, Object> before = new HashMap<>(st);
    change.accept(st);
    if (st.equals(before)) {
      return;
    }
    c.getAdditionalProperties().put("status", st);
    clusters().resource(c).updateStatus();
  }

  @SuppressWarnings("unchecked")
  private static void setCondition(
      Map<String, Object> st, String type, String status, String reason, String message) {
    List<Map<String, Object>> conditions =
        new ArrayList<>((List<Map<String, Object>>) st.getOrDefault("conditions", List.of()));
    for (Map<String, Object> x : conditions) {
      if (type.equals(x.get("type"))
          && status.equals(x.get("status"))
          && reason.equals(x.get("reason"))
          && message.equals(x.get("message"))) {
        return;
      }
    }
    // metav1.Condition: the transition time changes only with the status (apimachinery
    // meta.SetStatusCondition).
    Object since =
        conditions.stream()
            .filter(c -> type.equals(c.get("type")) && status.equals(c.get("status")))
            .map(c -> c.get("lastTransitionTime"))
            .findFirst()
            .orElse(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
    conditions.removeIf(x -> type.equals(x.get("type")));
    Map<String, Object> x = new LinkedHashMap<>();
    x.put("type", type);
    x.put("status", status);
    x.put("reason", reason);
    x.put("message", message);
    x.put("lastTransitionTime", since);
    conditions.add(x);
    st.put("conditions", conditions);
  }

  @SuppressWarnings("unchecked")
  private static void removeCondition(Map<String, Object> st, String type) {
    List<Map<String, Object>> conditions =
        new ArrayList<>((List<Map<String, Object>>) st.getOrDefault("conditions", List.of()));
    if (conditions.removeIf(x -> type.equals(x.get("type")))) {
      st.put("conditions", conditions);
    }
  }

  /**
   * The kubelet of a bootstrap Job's pod: Running while the import (or initdb) runs, then Succeeded
   * or Failed with the container's exit code, its log readable (kwok serves it).
   */
  private void runJobPod(Pod pod) {
    String name = pod.getMetadata().getName();
    String container = pod.getSpec().getContainers().get(0).getName();
    String image = pod.getSpec().getContainers().get(0).getImage();
    boolean imports = "import".equals(pod.getMetadata().getLabels().get("cnpg.io/jobRole"));
    try {
      podStatus(name, "Running", container, image, null);
      cp.podLog(ns, name, imports ? "importing..." : "initdb...");
      boolean fails = imports && importAttempts.getAndIncrement() < importFailures;
      String log = fails ? importFailureLog : (imports ? "importing... done" : "initdb... done");
      if (!fails && imports) {
        try {
          importer.run();
        } catch (RuntimeException e) {
          fails = true;
          log = "ERROR: " + e.getMessage();
        }
      }
      cp.podLog(ns, name, log);
      podStatus(name, fails ? "Failed" : "Succeeded", container, image, fails ? 1 : 0);
      if (imports) {
        importPodEnds.add(fails ? "Failed" : "Succeeded");
      }
    } catch (KubernetesClientException e) {
      // The pod was deleted while it ran: nothing is left to report on.
    } catch (RuntimeException e) {
      org.slf4j.LoggerFactory.getLogger(CnpgController.class)
          .warn("the harness's kubelet for job pod {} failed", name, e);
    }
  }

  private void podStatus(String name, String phase, String container, String image, Integer exit) {
    String now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    var state = new io.fabric8.kubernetes.api.model.ContainerStateBuilder();
    if (exit == null) {
      state.withNewRunning().withStartedAt(now).endRunning();
    } else {
      state
          .withNewTerminated()
          .withExitCode(exit)
          .withReason(exit == 0 ? "Completed" : "Error")
          .withFinishedAt(now)
          .endTerminated();
    }
    admin
        .pods()
        .inNamespace(ns)
        .withName(name)
        .editStatus(p -> {
          p.setStatus(
              new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                  .withPhase(phase)
                  .withStartTime(now)
                  .addNewCondition()
                  .withType("PodScheduled")
                  .withStatus("True")
                  .endCondition()
                  .addNewCondition()
                  .withType("Ready")
                  .withStatus(exit == null ? "True" : "False")
                  .endCondition()
                  .addNewContainerStatus()
                  .withName(container)
                  .withImage(image)
                  .withReady(exit == null)
                  .withRestartCount(0)
                  .withState(state.build())
                  .endContainerStatus()
                  .build());
          return p;
        });
  }

  private static <T> Watcher<T> on(java.util.function.Consumer<T> handle) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, T resource) {
        handle.accept(resource);
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }

  @Override
  public void close() {
    watches.forEach(Watch::close);
    loop.shutdownNow();
  }
}
