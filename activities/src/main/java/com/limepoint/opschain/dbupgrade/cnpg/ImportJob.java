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

  /**
   * The error a failed import pod's log shows, comparable between the Job's pods, or null when it
   * shows none (a pod killed part-way). Each line is read as CNPG's instance manager writes it: a
   * JSON object (pkg/management/log) whose {@code msg}, and {@code error} when there is one, say
   * what happened, its {@code ts} and {@code logging_pod} differing from run to run; pg_dump's and
   * pg_restore's own stderr lines come through as the {@code msg} of such lines (machinery
   * execlog). A plain line loses a leading timestamp and a {@code [pid]}. The pick is the last line
   * of pg_dump, pg_restore or psql (it starts with the tool's name) that says error or fatal, which
   * names the cause; else the last line that says error, fatal or panic (CNPG's own "Error while
   * bootstrapping", or the runner's "Error: while executing logical import", which name no cause).
   */
  static String errorOf(List<String> tail) {
    String tool = null;
    String any = null;
    for (String line : tail) {
      if (line.isBlank() || line.startsWith("(no log:")) {
        continue;
      }
      String text = text(line);
      String lower = text.toLowerCase(java.util.Locale.ROOT);
      boolean error = lower.contains("error") || lower.contains("fatal") || lower.contains("panic");
      if (!error) {
        continue;
      }
      any = text;
      // The tools' own stderr starts with their name; CNPG's wrapper lines only mention it.
      if (lower.startsWith("pg_dump:")
          || lower.startsWith("pg_restore:")
          || lower.startsWith("psql:")) {
        tool = text;
      }
    }
    return tool != null ? tool : any;
  }

  /** What a log line says, without what differs between runs. */
  private static String text(String line) {
    String t = line.trim();
    if (t.startsWith("{")) {
      try {
        var json = JSON.readTree(t);
        String msg = json.path("msg").asText();
        String error = json.path("error").asText();
        return error.isEmpty() ? msg : msg + " | " + error;
      } catch (java.io.IOException e) {
        // not JSON after all: compare it as text
      }
    }
    return t.replaceFirst("^\\d{4}-\\d{2}-\\d{2}[T ][0-9:.,]+Z?\\s*(UTC\\s*)?", "")
        .replaceAll("\\[\\d+\\]", "[pid]");
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * An error a retry may mend, that says nothing about the import itself: the source or the new
   * server out of reach for a while (libpq's "could not connect", "Connection refused", a reset or
   * timed-out connection, a host name that did not resolve, a server that closed the connection or
   * was shut down).
   */
  static boolean passing(String error) {
    String e = error.toLowerCase(java.util.Locale.ROOT);
    return List.of(
            "could not connect",
            "connection refused",
            "connection reset",
            "timed out",
            "timeout expired",
            "could not translate host name",
            "no route to host",
            "server closed the connection",
            "terminating connection due to administrator command",
            "the database system is starting up",
            "the database system is shutting down")
        .stream()
        .anyMatch(e::contains);
  }

  /** The Job ended: its condition Complete or Failed is True. */
  static boolean finished(Job j) {
    return j.getStatus() != null
        && j.getStatus().getConditions() != null
        && j.getStatus().getConditions().stream()
            .anyMatch(c ->
                ("Complete".equals(c.getType()) || "Failed".equals(c.getType()))
                    && "True".equals(c.getStatus()));
  }

  /**
   * The pods of this Job object (controlled by its uid): a Job of the same name made again (a
   * Cluster deleted and created anew) does not count the earlier one's failures. All of them when
   * there is no Job object to compare with.
   */
  List<Pod> ownPods() {
    if (job == null || job.getMetadata() == null || job.getMetadata().getUid() == null) {
      return pods;
    }
    String uid = job.getMetadata().getUid();
    return pods.stream()
        .filter(p ->
            p.getMetadata().getOwnerReferences() == null
                || p.getMetadata().getOwnerReferences().isEmpty()
                || p.getMetadata().getOwnerReferences().stream()
                    .anyMatch(o -> uid.equals(o.getUid())))
        .toList();
  }

  static String phase(Pod p) {
    return p.getStatus() == null ? null : p.getStatus().getPhase();
  }
}
