package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities.PreflightRequest;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities.PreflightResult;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgClusters;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgOperator;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The preflight, one method per check, in the order its evidence is listed. Each check returns its
 * line of evidence or the problems it found; the preflight fails with all the problems, having
 * changed nothing. One instance per request: the legacy database's checks build on each other.
 */
final class PreflightChecks {
  private static final Duration SHORT = Duration.ofMinutes(2);

  /** What one check found: a line of evidence, or problems. */
  record Evidence(String line, List<String> problems) {
    static Evidence ok(String line) {
      return new Evidence(line, List.of());
    }

    static Evidence problem(String problem) {
      return new Evidence(null, List.of(problem));
    }
  }

  private final KubernetesClient client;
  private final PodExec exec;
  private final DataDirectories dataDirs;
  private final Workloads workloads;
  private final PreflightRequest r;
  private final String ns;
  private String pod;
  private long size;
  private String[] identity;
  private boolean crdServed;

  PreflightChecks(
      KubernetesClient client,
      PodExec exec,
      DataDirectories dataDirs,
      Workloads workloads,
      PreflightRequest r) {
    this.client = client;
    this.exec = exec;
    this.dataDirs = dataDirs;
    this.workloads = workloads;
    this.r = r;
    this.ns = r.namespace();
  }

  PreflightResult run() {
    List<Evidence> found = new ArrayList<>();
    found.add(permissions());
    found.add(namespace());
    boolean legacy = workloads.deployment(ns, r.dbDeployment()) != null;
    found.add(legacyDeployment(legacy));
    found.add(restartDeployments());
    found.add(cnpgCrd());
    found.add(cnpgOperator());
    GenericKubernetesResource cluster = CnpgClusters.get(client, ns, r.clusterName());
    boolean serving = cluster != null && CnpgClusters.healthy(cluster);
    found.add(cnpgCluster(cluster));
    if (legacy) {
      found.add(databaseSize());
      if (pod != null) {
        found.add(dataDirectory());
        if (identity != null && r.podBackupDir() != null) {
          found.add(backupDirOutsideData());
        }
      }
    }
    List<String> problems = found.stream().flatMap(e -> e.problems().stream()).toList();
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "preflight found "
              + problems.size()
              + " problem(s); nothing was changed: "
              + String.join("; ", problems),
          FailureTypes.PREFLIGHT_FAILED);
    }
    List<String> checks = new ArrayList<>();
    found.stream().map(Evidence::line).filter(line -> line != null).forEach(checks::add);
    return new PreflightResult(
        legacy,
        serving,
        size,
        checks,
        identity == null ? null : identity[0],
        identity == null ? null : identity[1],
        replicas());
  }

  /** The replicas of the db deployment and the restart deployments, as they are now. */
  private java.util.Map<String, Integer> replicas() {
    java.util.Map<String, Integer> replicas = new java.util.LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    names.add(r.dbDeployment());
    names.addAll(r.restartDeployments());
    for (String name : names) {
      var d = workloads.deployment(ns, name);
      if (d != null && d.getSpec() != null && d.getSpec().getReplicas() != null) {
        replicas.put(name, d.getSpec().getReplicas());
      }
    }
    return replicas;
  }

  /** Every permission the run needs; without one, nothing else is checked. */
  Evidence permissions() {
    List<String> missing =
        Permissions.REQUIRED.stream()
            .filter(a -> !allowed(a))
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
    return Evidence.ok("all " + Permissions.REQUIRED.size() + " permissions granted in " + ns);
  }

  Evidence namespace() {
    try {
      return client.namespaces().withName(ns).get() == null
          ? Evidence.problem("namespace " + ns + " does not exist")
          : Evidence.ok("namespace " + ns + " exists");
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403) {
        throw e;
      }
      return Evidence.ok(
          "namespace " + ns + " is not readable with a namespaced role; its objects are");
    }
  }

  Evidence legacyDeployment(boolean legacy) {
    return Evidence.ok("legacy deployment " + r.dbDeployment() + (legacy ? " present" : " absent"));
  }

  /** Only problems: the deployments to restart afterwards that do not exist. */
  Evidence restartDeployments() {
    List<String> problems = new ArrayList<>();
    for (String name : r.restartDeployments()) {
      if (workloads.deployment(ns, name) == null) {
        problems.add("deployment " + ns + "/" + name + " (restartDeployments) does not exist");
      }
    }
    return new Evidence(null, problems);
  }

  Evidence cnpgCrd() {
    crdServed = CnpgOperator.crdServed(client, ns);
    return crdServed
        ? Evidence.ok("CRD clusters.postgresql.cnpg.io is installed")
        : Evidence.problem(
            "CRD clusters.postgresql.cnpg.io is not installed: install the CNPG operator first");
  }

  /**
   * The operator's Deployment, found by its label (see {@link CnpgOperator}). One the worker's role
   * cannot see is evidence, not a problem: the CRD check above is what it can check.
   */
  Evidence cnpgOperator() {
    CnpgOperator.Sighting seen = CnpgOperator.find(client, ns);
    return switch (seen.state()) {
      case RUNNING -> Evidence.ok(seen.describe());
      case NOT_VISIBLE ->
          Evidence.ok(seen.describe() + (crdServed ? "; the CRD is installed" : ""));
      case ABSENT, NOT_READY -> Evidence.problem(seen.describe());
    };
  }

  Evidence cnpgCluster(GenericKubernetesResource cluster) {
    return Evidence.ok(
        "CNPG cluster "
            + r.clusterName()
            + (cluster == null ? " absent" : " " + CnpgClusters.phase(cluster)));
  }

  /**
   * The legacy database's total size; finds its ready pod for the checks after it. A size that
   * cannot be read is a problem, not 0 bytes: the free-space check would pass blind and
   * pg_basebackup fail after OpsChain was stopped.
   */
  Evidence databaseSize() {
    String why;
    try {
      pod = DbPods.readyPod(client, ns, r.dbDeployment());
      size =
          Long.parseLong(exec.check(ns, pod, PodCommands.databaseSize(r.dbUser()), SHORT).strip());
      return Evidence.ok("databases total " + size + " bytes (pg_database_size)");
    } catch (ApplicationFailure e) {
      why = e.getOriginalMessage();
    } catch (NumberFormatException e) {
      why = "pg_database_size answered no number";
    }
    return Evidence.problem(
        "database size unknown ("
            + why
            + "): the free space for the backup cannot be checked; make sure "
            + r.dbDeployment()
            + " runs and answers as "
            + r.dbUser()
            + ", then start again");
  }

  /** The data directory and system identifier, recorded for checkDatabaseBack. */
  Evidence dataDirectory() {
    identity = dataDirs.identity(ns, pod, r.dbUser());
    if (identity == null) {
      return Evidence.problem(
          "PostgreSQL in pod "
              + ns
              + "/"
              + pod
              + " did not tell its data directory and system identifier to "
              + r.dbUser()
              + " (it needs superuser or pg_read_all_settings): without them the backup"
              + " directory cannot be checked");
    }
    return Evidence.ok(
        "data directory "
            + identity[0]
            + ", system identifier "
            + identity[1]
            + " (recorded to check the database after any compensation)");
  }

  Evidence backupDirOutsideData() {
    List<String> unsafe = dataDirs.backupDirProblems(ns, pod, r.podBackupDir(), identity[0]);
    return unsafe.isEmpty()
        ? Evidence.ok(
            "podBackupDir "
                + r.podBackupDir()
                + " is outside the data directory and holds no PG_VERSION")
        : new Evidence(null, unsafe);
  }

  private boolean allowed(Permissions.Access a) {
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
}
