package com.limepoint.opschain.dbupgrade.cnpg;

import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitResult;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import com.limepoint.opschain.dbupgrade.kube.Patches;
import com.limepoint.opschain.dbupgrade.kube.Waits;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/** {@link CnpgActivities} on the fabric8 client, with the Cluster as a generic resource. */
public class CnpgActivitiesImpl implements CnpgActivities {
  static final String HIBERNATION = "cnpg.io/hibernation";
  static final String UNRECOVERABLE = "Cluster is unrecoverable";

  private final KubernetesClient client;

  public CnpgActivitiesImpl(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public ImportResult awaitImport(ImportRequest r) {
    return awaitHealthy(r, true);
  }

  @Override
  public ImportResult awaitClusterHealthy(ImportRequest r) {
    return awaitHealthy(r, false);
  }

  /**
   * Waits for healthy (phase and readyInstances == instances) and, for an import, the import pod
   * done. The deadline counts from the first attempt, so retries do not extend importTimeout.
   */
  private ImportResult awaitHealthy(ImportRequest r, boolean importing) {
    String step = importing ? "awaitImport" : "awaitClusterHealthy";
    long start = System.nanoTime();
    try {
      return Waits.until(
          step,
          List.of(clusterInformer(r.namespace(), r.clusterName()), podInformer(r.namespace())),
          () -> healthyYet(r, importing, step, start),
          () ->
              "cluster "
                  + r.clusterName()
                  + " is "
                  + describe(cluster(r.namespace(), r.clusterName())),
          Duration.ofSeconds(r.timeoutSeconds()));
    } catch (ApplicationFailure e) {
      if (Waits.WAIT_TIMED_OUT.equals(e.getType())) {
        throw ApplicationFailure.newNonRetryableFailure(
            (importing ? "the import" : "the cluster")
                + " did not become healthy within "
                + Duration.ofSeconds(r.timeoutSeconds())
                + ": "
                + e.getOriginalMessage(),
            FailureTypes.IMPORT_TIMED_OUT);
      }
      throw e;
    }
  }

  /** One look at the cluster (and the import Job): the result when healthy; fails on failure. */
  private Optional<ImportResult> healthyYet(
      ImportRequest r, boolean importing, String step, long start) {
    GenericKubernetesResource c = cluster(r.namespace(), r.clusterName());
    String phase = c == null ? "(no cluster yet)" : CnpgClusters.phase(c);
    ImportJob job = importing ? ImportJob.read(client, r.namespace(), r.clusterName()) : null;
    Pod pod = job == null ? null : job.current();
    String podName = pod == null ? null : pod.getMetadata().getName();
    if (phase.startsWith(UNRECOVERABLE) || (job != null && job.failed())) {
      Pod failed = job == null ? null : job.lastFailed();
      List<String> tail =
          failed == null ? List.of() : logTail(r.namespace(), failed.getMetadata().getName());
      throw ApplicationFailure.newNonRetryableFailure(
          (phase.startsWith(UNRECOVERABLE)
                  ? "CNPG says: " + phase
                  : "import Job "
                      + job.name()
                      + " failed after "
                      + job.failedPods()
                      + " failed pod(s)"
                      + (failed == null ? "" : ", the last " + failed.getMetadata().getName()))
              + ". Last log lines:\n"
              + String.join("\n", tail),
          FailureTypes.IMPORT_FAILED);
    }
    if (job != null) {
      sameErrorTwice(r.namespace(), job);
    }
    boolean podDone = !importing || !job.exists() || job.succeeded();
    List<String> tail = podName == null ? List.of() : logTail(r.namespace(), podName);
    if (c != null && CnpgClusters.healthy(c) && podDone) {
      Map<String, Object> st = CnpgClusters.status(c);
      return Optional.of(
          new ImportResult(
              phase,
              ((Number) st.get("readyInstances")).intValue(),
              ((Number) st.get("instances")).intValue(),
              (System.nanoTime() - start) / 1_000_000,
              tail));
    }
    String podState =
        pod == null
            ? ""
            : ", import pod "
                + podName
                + ": "
                + ImportJob.phase(pod)
                + (job.failedPods() > 0
                    ? " (" + job.failedPods() + " failed before, the Job retries)"
                    : "");
    Heartbeats.beat(new Checkpoint(step, null, 0, 0, null, "cluster: " + phase + podState, tail));
    return Optional.empty();
  }

  /**
   * The same lookup as the preflight's ({@link CnpgOperator}): an operator the worker's role cannot
   * see passes when the CRD is served; a missing or unready one fails, retryably.
   */
  @Override
  public ChangeResult checkOperator(ClusterRequest r) {
    CnpgOperator.Sighting seen = CnpgOperator.find(client, r.namespace());
    switch (seen.state()) {
      case RUNNING -> {
        return ChangeResult.unchanged(seen.describe());
      }
      case NOT_VISIBLE -> {
        if (CnpgOperator.crdServed(client, r.namespace())) {
          return ChangeResult.unchanged(seen.describe() + "; the CRD is installed");
        }
        throw ApplicationFailure.newFailure(
            seen.describe()
                + ", and CRD clusters.postgresql.cnpg.io is not installed: install the CNPG"
                + " operator first",
            "OperatorNotReady");
      }
      default -> throw ApplicationFailure.newFailure(seen.describe(), "OperatorNotReady");
    }
  }

  @Override
  public ChangeResult deleteCluster(ClusterRequest r) {
    Resource<GenericKubernetesResource> res = clusterResource(r.namespace(), r.clusterName());
    if (cluster(r.namespace(), r.clusterName()) == null) {
      return ChangeResult.unchanged("cluster " + r.clusterName() + " is already gone");
    }
    if (r.dryRun()) {
      res.dryRun().delete();
      return ChangeResult.unchanged("would delete cluster " + r.clusterName() + " (dry run)");
    }
    res.delete();
    return ChangeResult.changed("deleted cluster " + r.clusterName());
  }

  @Override
  public ChangeResult setHibernation(HibernationRequest r) {
    GenericKubernetesResource c = cluster(r.namespace(), r.clusterName());
    if (c == null) {
      throw ApplicationFailure.newFailure(
          "cluster " + r.namespace() + "/" + r.clusterName() + " does not exist yet",
          "ClusterMissing");
    }
    String want = r.on() ? "on" : "off";
    Map<String, String> a = c.getMetadata().getAnnotations();
    String now = a == null ? null : a.get(HIBERNATION);
    if (want.equals(now) || (!r.on() && now == null)) {
      return ChangeResult.unchanged("hibernation already " + want + " on " + r.clusterName());
    }
    Resource<GenericKubernetesResource> res = clusterResource(r.namespace(), r.clusterName());
    (r.dryRun() ? res.dryRun() : res)
        .patch(
            Patches.MERGE,
            "{\"metadata\":{\"annotations\":{\"" + HIBERNATION + "\":\"" + want + "\"}}}");
    return r.dryRun()
        ? ChangeResult.unchanged("would set " + HIBERNATION + "=" + want + " (dry run)")
        : ChangeResult.changed("set " + HIBERNATION + "=" + want + " on " + r.clusterName());
  }

  /**
   * Until nothing writes the cluster's data volume and CNPG will start nothing that does: no pod of
   * the cluster that has not ended (its instance pods and the pods of its bootstrap Jobs, which the
   * Job controller names {@code <job>-<suffix>}; a pooler's pods carry the cluster's label too but
   * mount no data volume), no bootstrap Job still running (between two of its pods, during
   * Kubernetes' back-off, none exists), and the Cluster, if there is one, asking for hibernation
   * and CNPG saying Hibernated (condition {@code cnpg.io/hibernation} True). CNPG hibernates only a
   * healthy cluster: one annotated while it bootstraps first runs its initdb or import Job and
   * starts its instance (pkg/reconciler/hibernation/status.go, WaitingForHealthy), so no pod at one
   * moment does not mean none later.
   */
  @Override
  public WaitResult awaitDbPodGone(ClusterRequest r) {
    Map<String, String> selector = Map.of("cnpg.io/cluster", r.clusterName());
    return Waits.untilNone(
        "awaitDbPodGone",
        List.of(
            h -> informPods(r.namespace(), selector, h),
            clusterInformer(r.namespace(), r.clusterName())),
        () -> writers(r.namespace(), r.clusterName(), selector),
        "still running: ",
        "no pod of cluster " + r.clusterName(),
        Duration.ofMinutes(20).toSeconds());
  }

  private List<String> writers(String ns, String cluster, Map<String, String> selector) {
    List<String> out = new java.util.ArrayList<>();
    for (Pod p : client.pods().inNamespace(ns).withLabels(selector).list().getItems()) {
      String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
      Map<String, String> labels = p.getMetadata().getLabels();
      if (!"Succeeded".equals(phase)
          && !"Failed".equals(phase)
          && !labels.containsKey("cnpg.io/poolerName")) {
        out.add(p.getMetadata().getName());
      }
    }
    for (String job : List.of(ImportJob.name(cluster), cluster + "-1-initdb")) {
      var j = client.batch().v1().jobs().inNamespace(ns).withName(job).get();
      if (j != null && !ImportJob.finished(j)) {
        out.add("job " + job);
      }
    }
    GenericKubernetesResource c = cluster(ns, cluster);
    if (c != null) {
      Map<String, String> a = c.getMetadata().getAnnotations();
      Map<String, Object> hibernation = CnpgClusters.condition(c, HIBERNATION);
      if (a == null || !"on".equals(a.get(HIBERNATION))) {
        out.add(
            "cluster "
                + cluster
                + " (not annotated "
                + HIBERNATION
                + "=on: CNPG would start its instance again)");
      } else if (hibernation == null || !"True".equals(hibernation.get("status"))) {
        out.add(
            "cluster "
                + cluster
                + " not hibernated yet"
                + (hibernation == null ? "" : " (" + hibernation.get("reason") + ")"));
      }
    }
    return out;
  }

  /**
   * Fails the import when its last two failed pods ended with the same error. CNPG sets no
   * backoffLimit on the import Job (pkg/specs/jobs.go), so Kubernetes retries a failing import six
   * times with its back-off (10 s doubling: about ten and a half minutes, plus each run), and only
   * CNPG v1.28.4, v1.29.2 and v1.30.0 then report the cluster unrecoverable; others stay "Setting
   * up primary" until importTimeout. An error that repeats is the import's (a missing role, a
   * failing statement), not a passing one, which a retry may mend: a connection refused, reset or
   * timed out, a name that did not resolve ({@link ImportJob#passing}) is left to the Job's retries
   * and importTimeout. The failure path opens with the log.
   */
  private void sameErrorTwice(String ns, ImportJob job) {
    if (job.succeeded()) {
      return;
    }
    List<Pod> failed =
        job.ownPods().stream().filter(p -> "Failed".equals(ImportJob.phase(p))).toList();
    if (failed.size() < 2) {
      return;
    }
    Pod last = failed.get(failed.size() - 1);
    List<String> tail = logTail(ns, last.getMetadata().getName());
    String error = ImportJob.errorOf(tail);
    if (error == null
        || ImportJob.passing(error)
        || !error.equals(
            ImportJob.errorOf(
                logTail(ns, failed.get(failed.size() - 2).getMetadata().getName())))) {
      return;
    }
    throw ApplicationFailure.newNonRetryableFailure(
        "import Job "
            + job.name()
            + " failed after "
            + failed.size()
            + " failed pod(s) with the same error, the last "
            + last.getMetadata().getName()
            + " (the Job would retry it with Kubernetes' back-off, CNPG setting no backoffLimit;"
            + " the cluster is left to the failure path). Last log lines:\n"
            + String.join("\n", tail),
        FailureTypes.IMPORT_FAILED);
  }

  private List<String> logTail(String ns, String pod) {
    try {
      String log = client.pods().inNamespace(ns).withName(pod).tailingLines(20).getLog();
      return log == null ? List.of() : log.lines().toList();
    } catch (KubernetesClientException e) {
      return List.of("(no log: " + e.getMessage() + ")");
    }
  }

  private static String describe(GenericKubernetesResource c) {
    return c == null ? "absent" : CnpgClusters.phase(c);
  }

  private Resource<GenericKubernetesResource> clusterResource(String ns, String name) {
    return CnpgClusters.resource(client, ns, name);
  }

  private GenericKubernetesResource cluster(String ns, String name) {
    return CnpgClusters.get(client, ns, name);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private Function<ResourceEventHandler, SharedIndexInformer<?>> clusterInformer(
      String ns, String name) {
    return h -> clusterResource(ns, name).inform(h, 30_000);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private Function<ResourceEventHandler, SharedIndexInformer<?>> podInformer(String ns) {
    return h -> client.pods().inNamespace(ns).withLabel(ImportJob.JOB_NAME_LABEL).inform(h, 30_000);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private SharedIndexInformer<?> informPods(
      String ns, Map<String, String> selector, ResourceEventHandler h) {
    return client.pods().inNamespace(ns).withLabels(selector).inform(h, 30_000);
  }
}
