package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.Map;

/** The simulated CNPG import Job of the cluster-in-a-box (see {@link #run}). */
final class CnpgImportJob {
  private CnpgImportJob() {}

  /**
   * CNPG's import as Kubernetes runs it: a Job {@code <cluster>-1-import} with CNPG's labels (CNPG
   * pkg/specs/jobs.go: {@code <instance>-<role>}, labels cnpg.io/cluster, cnpg.io/jobRole,
   * cnpg.io/instanceName), whose pods the Job controller creates with generateName {@code <job>-}
   * (a 5-character suffix) and the labels {@code batch.kubernetes.io/job-name} and {@code job-name}
   * (kubernetes pkg/controller/job). A failed pod is replaced until the backoff limit; then the Job
   * gets the condition Failed, reason BackoffLimitExceeded.
   */
  static void create(KubernetesClient client, String ns, String cluster, String job) {
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(ns)
        .resource(
            new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder()
                .withNewMetadata()
                .withName(job)
                .withNamespace(ns)
                .withLabels(labels(cluster))
                .endMetadata()
                .withNewSpec()
                .withBackoffLimit(Controllers.IMPORT_BACKOFF_LIMIT)
                .endSpec()
                .build())
        .create();
  }

  private static Map<String, String> labels(String cluster) {
    return Map.of(
        "cnpg.io/cluster",
        cluster,
        "cnpg.io/jobRole",
        "import",
        "cnpg.io/instanceName",
        cluster + "-1");
  }

  /** Whether the Job has finished, with the condition Complete or Failed. */
  static boolean finished(io.fabric8.kubernetes.api.model.batch.v1.Job j) {
    return j.getStatus() != null
        && j.getStatus().getConditions() != null
        && j.getStatus().getConditions().stream()
            .anyMatch(c ->
                "True".equals(c.getStatus())
                    && ("Complete".equals(c.getType()) || "Failed".equals(c.getType())));
  }

  static boolean complete(io.fabric8.kubernetes.api.model.batch.v1.Job j) {
    return finished(j) && j.getStatus().getSucceeded() != null && j.getStatus().getSucceeded() > 0;
  }

  /**
   * The Job's pods, one after another, each Running while {@code importer} runs (in the caller's
   * thread: the Job runs beside the controllers, as a real one does on its own node), then
   * Succeeded or Failed; at the end the Job's status and condition.
   */
  static void runPods(
      KubernetesClient client,
      ClusterInABox box,
      String ns,
      String cluster,
      String job,
      int importFailures,
      String importFailureLog,
      Runnable importer) {
    Map<String, String> labels = labels(cluster);
    int failed = 0;
    boolean succeeded = false;
    for (int attempt = 0; attempt <= Controllers.IMPORT_BACKOFF_LIMIT && !succeeded; attempt++) {
      String pod = job + "-" + suffix();
      Map<String, String> podLabels = new HashMap<>(labels);
      podLabels.put("batch.kubernetes.io/job-name", job);
      podLabels.put("job-name", job);
      Pod p = PodStates.runningPod(ns, pod, podLabels);
      // The API server stamps creation in whole seconds (RFC 3339); each retry comes later.
      p.getMetadata()
          .setCreationTimestamp(
              java.time.Instant.now()
                  .truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                  .plusSeconds(attempt)
                  .toString());
      box.setLog(ns, pod, "importing...");
      client.pods().inNamespace(ns).resource(p).create();
      boolean fails = attempt < importFailures;
      String log = fails ? importFailureLog : "importing... done";
      if (!fails) {
        try {
          importer.run();
        } catch (RuntimeException e) {
          fails = true;
          log = "ERROR: " + e.getMessage();
        }
      }
      box.setLog(ns, pod, log);
      String phase = fails ? "Failed" : "Succeeded";
      client
          .pods()
          .inNamespace(ns)
          .withName(pod)
          .edit(x -> {
            x.getStatus().setPhase(phase);
            x.getStatus().getConditions().forEach(c -> c.setStatus("False"));
            return x;
          });
      if (fails) {
        failed++;
      } else {
        succeeded = true;
      }
    }
    final int failures = failed;
    final boolean done = succeeded;
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(ns)
        .withName(job)
        .edit(j -> {
          var st =
              new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder().withFailed(failures);
          if (done) {
            st.withSucceeded(1)
                .addNewCondition()
                .withType("Complete")
                .withStatus("True")
                .endCondition();
          } else {
            st.addNewCondition()
                .withType("Failed")
                .withStatus("True")
                .withReason("BackoffLimitExceeded")
                .endCondition();
          }
          j.setStatus(st.build());
          return j;
        });
  }

  /** A 5-character suffix from the alphabet Kubernetes' generateName uses (no vowels). */
  private static String suffix() {
    String alphabet = "bcdfghjklmnpqrstvwxz2456789";
    StringBuilder b = new StringBuilder();
    java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
    for (int i = 0; i < 5; i++) {
      b.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return b.toString();
  }
}
