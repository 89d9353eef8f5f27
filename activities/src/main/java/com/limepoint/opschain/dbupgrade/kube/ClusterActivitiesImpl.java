package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.activities.WaitResult;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgClusters;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/** {@link ClusterActivities} on the fabric8 client. */
public class ClusterActivitiesImpl implements ClusterActivities {

  static final String OPERATOR_NAMESPACE = "cnpg-system";
  static final String OPERATOR_DEPLOYMENT = "cnpg-controller-manager";
  static final String RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
  private static final Duration SHORT = Duration.ofMinutes(2);

  private final KubernetesClient client;
  private final PodExec exec;
  private final DataDirectories dataDirs;

  public ClusterActivitiesImpl(KubernetesClient client) {
    this.client = client;
    this.exec = new PodExec(client);
    this.dataDirs = new DataDirectories(exec);
  }

  @Override
  public PreflightResult preflight(PreflightRequest r) {
    String ns = r.namespace();
    List<String> missing =
        Permissions.REQUIRED.stream()
            .filter(a -> !allowed(ns, a))
            .map(Permissions.Access::describe)
            .toList();
    if (!missing.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the worker's service account may not, in namespace "
              + ns
              + ": "
              + String.join(", ", missing)
              + ". Apply deploy/rbac.yaml to the namespace.",
          FailureTypes.PERMISSION_DENIED);
    }
    List<String> checks = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    checks.add("all " + Permissions.REQUIRED.size() + " permissions granted in " + ns);
    try {
      if (client.namespaces().withName(ns).get() == null) {
        problems.add("namespace " + ns + " does not exist");
      } else {
        checks.add("namespace " + ns + " exists");
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403) {
        throw e;
      }
      checks.add("namespace " + ns + " is not readable with a namespaced role; its objects are");
    }
    Deployment db = deployment(ns, r.dbDeployment());
    boolean legacy = db != null;
    checks.add("legacy deployment " + r.dbDeployment() + (legacy ? " present" : " absent"));
    for (String name : r.restartDeployments()) {
      if (deployment(ns, name) == null) {
        problems.add("deployment " + ns + "/" + name + " (restartDeployments) does not exist");
      }
    }
    try {
      client.genericKubernetesResources(CnpgClusters.API, CnpgClusters.KIND).inNamespace(ns).list();
      checks.add("CRD clusters.postgresql.cnpg.io is installed");
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
      problems.add(
          "CRD clusters.postgresql.cnpg.io is not installed: install the CNPG operator first");
    }
    operator(problems, checks);
    GenericKubernetesResource cluster = cluster(ns, r.clusterName());
    boolean serving = cluster != null && CnpgClusters.healthy(cluster);
    checks.add(
        "CNPG cluster "
            + r.clusterName()
            + (cluster == null ? " absent" : " " + CnpgClusters.phase(cluster)));
    long size = 0;
    String dataDirectory = null;
    String systemIdentifier = null;
    if (legacy) {
      String pod = null;
      try {
        pod = DbPods.readyPod(client, ns, r.dbDeployment());
        size =
            Long.parseLong(
                exec.check(ns, pod, PodCommands.databaseSize(r.dbUser()), SHORT).strip());
        checks.add("databases total " + size + " bytes (pg_database_size)");
      } catch (ApplicationFailure e) {
        checks.add("database size unknown: " + e.getOriginalMessage());
      }
      if (pod != null) {
        String[] identity = dataDirs.identity(ns, pod, r.dbUser());
        if (identity == null) {
          problems.add(
              "PostgreSQL in pod "
                  + ns
                  + "/"
                  + pod
                  + " did not tell its data directory and system identifier to "
                  + r.dbUser()
                  + " (it needs superuser or pg_read_all_settings): without them the backup"
                  + " directory cannot be checked");
        } else {
          dataDirectory = identity[0];
          systemIdentifier = identity[1];
          checks.add(
              "data directory "
                  + dataDirectory
                  + ", system identifier "
                  + systemIdentifier
                  + " (recorded to check the database after any compensation)");
          if (r.podBackupDir() != null) {
            List<String> unsafe =
                dataDirs.backupDirProblems(ns, pod, r.podBackupDir(), dataDirectory);
            problems.addAll(unsafe);
            if (unsafe.isEmpty()) {
              checks.add(
                  "podBackupDir "
                      + r.podBackupDir()
                      + " is outside the data directory and holds no PG_VERSION");
            }
          }
        }
      }
    }
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "preflight found "
              + problems.size()
              + " problem(s); nothing was changed: "
              + String.join("; ", problems),
          FailureTypes.PREFLIGHT_FAILED);
    }
    return new PreflightResult(legacy, serving, size, checks, dataDirectory, systemIdentifier);
  }

  @Override
  public WaitResult checkDatabaseBack(DatabaseCheckRequest r) {
    String ns = r.namespace();
    long start = System.nanoTime();
    String last = "no check ran";
    while (true) {
      String pod = null;
      try {
        pod = DbPods.readyPod(client, ns, r.dbDeployment());
      } catch (ApplicationFailure e) {
        if (!"PodNotReady".equals(e.getType())) {
          throw ApplicationFailure.newNonRetryableFailure(
              e.getOriginalMessage(), FailureTypes.DATABASE_NOT_IN_SERVICE);
        }
        last = e.getOriginalMessage();
      }
      if (pod != null) {
        String[] identity = dataDirs.identity(ns, pod, r.dbUser());
        if (identity != null) {
          if (r.systemIdentifier() != null && !r.systemIdentifier().equals(identity[1])) {
            throw ApplicationFailure.newNonRetryableFailure(
                "PostgreSQL in pod "
                    + ns
                    + "/"
                    + pod
                    + " answers with system identifier "
                    + identity[1]
                    + ", but preflight recorded "
                    + r.systemIdentifier()
                    + ": it is not the database that was there before",
                FailureTypes.DATABASE_NOT_IN_SERVICE);
          }
          return new WaitResult(
              "PostgreSQL in pod "
                  + pod
                  + " answers; system identifier "
                  + identity[1]
                  + " as recorded at preflight",
              elapsed(start));
        }
        last = "PostgreSQL in pod " + ns + "/" + pod + " does not answer a query";
      }
      if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(r.timeoutSeconds())) {
        throw ApplicationFailure.newNonRetryableFailure(
            "the legacy database is not back in service after "
                + r.timeoutSeconds()
                + " s: "
                + last,
            FailureTypes.DATABASE_NOT_IN_SERVICE);
      }
      Heartbeats.alive("checking the legacy database", start);
      try {
        Thread.sleep(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted while checking the legacy database", Waits.WAIT_TIMED_OUT);
      }
    }
  }

  private void operator(List<String> problems, List<String> checks) {
    try {
      Deployment op = deployment(OPERATOR_NAMESPACE, OPERATOR_DEPLOYMENT);
      if (op == null) {
        problems.add(
            "the CNPG operator ("
                + OPERATOR_NAMESPACE
                + "/"
                + OPERATOR_DEPLOYMENT
                + ") is not installed");
      } else if (!available(op)) {
        problems.add(
            "the CNPG operator ("
                + OPERATOR_NAMESPACE
                + "/"
                + OPERATOR_DEPLOYMENT
                + ") is not ready");
      } else {
        checks.add("CNPG operator ready");
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403) {
        throw e;
      }
      checks.add("CNPG operator not visible with a namespaced role; the CRD is");
    }
  }

  private boolean allowed(String ns, Permissions.Access a) {
    SelfSubjectAccessReview review =
        client
            .authorization()
            .v1()
            .selfSubjectAccessReview()
            .create(
                new SelfSubjectAccessReviewBuilder()
                    .withNewSpec()
                    .withNewResourceAttributes()
                    .withNamespace(ns)
                    .withGroup(a.group())
                    .withResource(a.resource())
                    .withSubresource(a.subresource())
                    .withVerb(a.verb())
                    .endResourceAttributes()
                    .endSpec()
                    .build());
    return review.getStatus() != null && Boolean.TRUE.equals(review.getStatus().getAllowed());
  }

  @Override
  public ChangeResult scaleDeployment(ScaleRequest r) {
    Deployment d = requireDeployment(r.namespace(), r.deployment());
    if (Objects.equals(d.getSpec().getReplicas(), r.replicas())) {
      return ChangeResult.unchanged(
          r.deployment() + " already has " + r.replicas() + " replica(s)");
    }
    var resource = client.apps().deployments().inNamespace(r.namespace()).withName(r.deployment());
    // A merge patch of just the field, as kubectl does: no resourceVersion, so the controllers'
    // concurrent status updates cannot make it conflict.
    (r.dryRun() ? resource.dryRun() : resource)
        .patch(Patches.MERGE, "{\"spec\":{\"replicas\":" + r.replicas() + "}}");
    return r.dryRun()
        ? ChangeResult.unchanged(
            "would scale " + r.deployment() + " to " + r.replicas() + " (dry run)")
        : ChangeResult.changed(
            "scaled "
                + r.deployment()
                + " from "
                + d.getSpec().getReplicas()
                + " to "
                + r.replicas());
  }

  @Override
  public WaitResult awaitWorkloadsStopped(WaitRequest r) {
    long start = System.nanoTime();
    String seen =
        Waits.until(
            "awaitWorkloadsStopped",
            List.of(deploymentInformer(r.namespace()), statefulSetInformer(r.namespace())),
            () -> {
              List<String> running = running(r);
              return running.isEmpty()
                  ? Optional.of("all deployments and statefulsets stopped")
                  : Optional.empty();
            },
            () -> "still running: " + String.join(", ", running(r)),
            Duration.ofSeconds(r.timeoutSeconds()));
    return new WaitResult(seen, elapsed(start));
  }

  private List<String> running(WaitRequest r) {
    List<String> running = new ArrayList<>();
    for (Deployment d : client.apps().deployments().inNamespace(r.namespace()).list().getItems()) {
      if (selected(r, d.getMetadata().getName())
          && (replicas(d.getSpec().getReplicas()) > 0
              || replicas(d.getStatus() == null ? null : d.getStatus().getReplicas()) > 0)) {
        running.add("deployment/" + d.getMetadata().getName());
      }
    }
    for (StatefulSet s :
        client.apps().statefulSets().inNamespace(r.namespace()).list().getItems()) {
      if (selected(r, s.getMetadata().getName())
          && (replicas(s.getSpec().getReplicas()) > 0
              || replicas(s.getStatus() == null ? null : s.getStatus().getReplicas()) > 0)) {
        running.add("statefulset/" + s.getMetadata().getName());
      }
    }
    return running;
  }

  @Override
  public WaitResult awaitDeploymentReady(WaitRequest r) {
    long start = System.nanoTime();
    String seen =
        Waits.until(
            "awaitDeploymentReady",
            List.of(deploymentInformer(r.namespace()), podInformer(r.namespace())),
            () ->
                notReady(r).isEmpty()
                    ? Optional.of(String.join(", ", r.names()) + " ready")
                    : Optional.empty(),
            () -> "not ready yet: " + String.join(", ", notReady(r)),
            Duration.ofSeconds(r.timeoutSeconds()));
    return new WaitResult(seen, elapsed(start));
  }

  private List<String> notReady(WaitRequest r) {
    List<String> out = new ArrayList<>();
    for (String name : r.names()) {
      Deployment d = deployment(r.namespace(), name);
      boolean ready =
          d != null
              && d.getStatus() != null
              && replicas(d.getStatus().getReadyReplicas())
                  >= Math.max(1, replicas(d.getSpec().getReplicas()));
      if (ready) {
        try {
          DbPods.readyPod(client, r.namespace(), name);
        } catch (ApplicationFailure e) {
          ready = false;
        }
      }
      if (!ready) {
        out.add(name);
      }
    }
    return out;
  }

  @Override
  public ChangeResult rolloutRestart(RestartRequest r) {
    List<String> restarted = new ArrayList<>();
    for (String name : r.deployments()) {
      Deployment d = requireDeployment(r.namespace(), name);
      Map<String, String> annotations = d.getSpec().getTemplate().getMetadata().getAnnotations();
      if (annotations != null && r.restartedAt().equals(annotations.get(RESTARTED_AT))) {
        continue;
      }
      var resource = client.apps().deployments().inNamespace(r.namespace()).withName(name);
      (r.dryRun() ? resource.dryRun() : resource)
          .patch(
              Patches.MERGE,
              "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\""
                  + RESTARTED_AT
                  + "\":\""
                  + r.restartedAt()
                  + "\"}}}}}");
      restarted.add(name);
    }
    if (restarted.isEmpty()) {
      return ChangeResult.unchanged(
          "already restarted at " + r.restartedAt() + ": " + String.join(", ", r.deployments()));
    }
    return r.dryRun()
        ? ChangeResult.unchanged("would restart " + String.join(", ", restarted) + " (dry run)")
        : ChangeResult.changed(
            "restarted " + String.join(", ", restarted) + " (restartedAt " + r.restartedAt() + ")");
  }

  @Override
  public WaitResult awaitRolloutComplete(WaitRequest r) {
    long start = System.nanoTime();
    String seen =
        Waits.until(
            "awaitRolloutComplete",
            List.of(deploymentInformer(r.namespace())),
            () ->
                incomplete(r).isEmpty()
                    ? Optional.of("rollouts complete: " + String.join(", ", r.names()))
                    : Optional.empty(),
            () -> "rolling out: " + String.join(", ", incomplete(r)),
            Duration.ofSeconds(r.timeoutSeconds()));
    return new WaitResult(seen, elapsed(start));
  }

  private List<String> incomplete(WaitRequest r) {
    List<String> out = new ArrayList<>();
    for (String name : r.names()) {
      Deployment d = deployment(r.namespace(), name);
      if (d == null || !available(d)) {
        out.add(name);
      }
    }
    return out;
  }

  @Override
  public WaitResult awaitDeploymentGone(WaitRequest r) {
    long start = System.nanoTime();
    String seen =
        Waits.until(
            "awaitDeploymentGone",
            List.of(deploymentInformer(r.namespace())),
            () ->
                r.names().stream().allMatch(n -> deployment(r.namespace(), n) == null)
                    ? Optional.of("gone: " + String.join(", ", r.names()))
                    : Optional.empty(),
            () ->
                "still present: "
                    + r.names().stream()
                        .filter(n -> deployment(r.namespace(), n) != null)
                        .collect(Collectors.joining(", ")),
            Duration.ofSeconds(r.timeoutSeconds()));
    return new WaitResult(seen, elapsed(start));
  }

  /** The rollout is complete: the new generation observed, every replica updated and available. */
  static boolean available(Deployment d) {
    var st = d.getStatus();
    int want = replicas(d.getSpec().getReplicas());
    return st != null
        && (d.getMetadata().getGeneration() == null
            || st.getObservedGeneration() == null
            || st.getObservedGeneration() >= d.getMetadata().getGeneration())
        && replicas(st.getUpdatedReplicas()) >= want
        && replicas(st.getAvailableReplicas()) >= want
        && replicas(st.getReplicas()) == want;
  }

  private Deployment requireDeployment(String ns, String name) {
    Deployment d = deployment(ns, name);
    if (d == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "deployment " + ns + "/" + name + " not found", FailureTypes.PREFLIGHT_FAILED);
    }
    return d;
  }

  private Deployment deployment(String ns, String name) {
    return client.apps().deployments().inNamespace(ns).withName(name).get();
  }

  private GenericKubernetesResource cluster(String ns, String name) {
    return CnpgClusters.get(client, ns, name);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private Function<ResourceEventHandler, SharedIndexInformer<?>> deploymentInformer(String ns) {
    return h -> client.apps().deployments().inNamespace(ns).inform(h, Waits.RESYNC_MILLIS);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private Function<ResourceEventHandler, SharedIndexInformer<?>> statefulSetInformer(String ns) {
    return h -> client.apps().statefulSets().inNamespace(ns).inform(h, Waits.RESYNC_MILLIS);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private Function<ResourceEventHandler, SharedIndexInformer<?>> podInformer(String ns) {
    return h -> client.pods().inNamespace(ns).inform(h, Waits.RESYNC_MILLIS);
  }

  private static boolean selected(WaitRequest r, String name) {
    return r.names().isEmpty() || r.names().contains(name);
  }

  private static int replicas(Integer n) {
    return n == null ? 0 : n;
  }

  private static long elapsed(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }
}
