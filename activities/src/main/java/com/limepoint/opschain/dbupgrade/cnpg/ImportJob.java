package com.limepoint.opschain.dbupgrade.cnpg;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CNPG's import, as the cluster shows it: a Job named {@code <cluster>-1-import} (CNPG
 * pkg/specs/jobs.go names a job {@code <instance>-<role>}, the first instance being {@code
 * <cluster>-1}) whose pods Kubernetes names with a generated suffix and labels {@code
 * batch.kubernetes.io/job-name} (and {@code job-name} before Kubernetes 1.27). A failed pod is
 * retried by the Job; only a Job with the condition {@code Failed} (its backoff limit reached)
 * means the import failed.
 */
record ImportJob(String name, Job job, List<Pod> pods) {
  static final String JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
  static final String LEGACY_JOB_NAME_LABEL = "job-name";

  static String name(String cluster) {
    return cluster + "-1-import";
  }

  static ImportJob read(KubernetesClient client, String ns, String cluster) {
    String name = name(cluster);
    Job job = client.batch().v1().jobs().inNamespace(ns).withName(name).get();
    Map<String, Pod> pods = new LinkedHashMap<>();
    for (String label : List.of(JOB_NAME_LABEL, LEGACY_JOB_NAME_LABEL)) {
      client
          .pods()
          .inNamespace(ns)
          .withLabel(label, name)
          .list()
          .getItems()
          .forEach(p -> pods.putIfAbsent(p.getMetadata().getName(), p));
    }
    List<Pod> sorted =
        pods.values().stream()
            .sorted(
                Comparator.comparing((Pod p) ->
                        p.getMetadata().getCreationTimestamp() == null
                            ? ""
                            : p.getMetadata().getCreationTimestamp())
                    .thenComparing(p -> p.getMetadata().getName()))
            .toList();
    return new ImportJob(name, job, sorted);
  }

  private static java.time.Instant created(Pod p) {
    String t = p.getMetadata().getCreationTimestamp();
    try {
      return t == null ? java.time.Instant.EPOCH : java.time.Instant.parse(t);
    } catch (java.time.format.DateTimeParseException e) {
      return java.time.Instant.EPOCH;
    }
  }

  boolean exists() {
    return job != null || !pods.isEmpty();
  }

  /** The Job gave up: its condition Failed is True (BackoffLimitExceeded, DeadlineExceeded). */
  boolean failed() {
    return job != null
        && job.getStatus() != null
        && job.getStatus().getConditions() != null
        && job.getStatus().getConditions().stream()
            .anyMatch(c -> "Failed".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** The Job completed, or (no Job object) its newest pod succeeded. */
  boolean succeeded() {
    if (job != null && job.getStatus() != null && job.getStatus().getSucceeded() != null) {
      return job.getStatus().getSucceeded() > 0;
    }
    Pod p = newest();
    return p != null && "Succeeded".equals(phase(p));
  }

  /** The pod to show: the one that succeeded, else the newest. */
  Pod current() {
    return pods.stream()
        .filter(p -> "Succeeded".equals(phase(p)))
        .reduce((a, b) -> b)
        .orElse(newest());
  }

  Pod newest() {
    return pods.isEmpty() ? null : pods.get(pods.size() - 1);
  }

  /** The newest failed pod: whose log says why. */
  Pod lastFailed() {
    for (int i = pods.size() - 1; i >= 0; i--) {
      if ("Failed".equals(phase(pods.get(i)))) {
        return pods.get(i);
      }
    }
    return newest();
  }

  long failedPods() {
    return pods.stream().filter(p -> "Failed".equals(phase(p))).count();
  }

  static String phase(Pod p) {
    return p.getStatus() == null ? null : p.getStatus().getPhase();
  }
}
