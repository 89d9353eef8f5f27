package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;

/** The harness's pods: a running pod, its Ready condition, and the services' readiness probe. */
final class PodStates {
  private PodStates() {}

  static Pod runningPod(String ns, String name, Map<String, String> labels) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(ns)
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("main")
        .withImage("harness")
        .endContainer()
        .endSpec()
        .withNewStatus()
        .withPhase("Running")
        .addNewCondition()
        .withType("Ready")
        .withStatus("True")
        .endCondition()
        .endStatus()
        .build();
  }

  static boolean ready(Pod p) {
    return p.getStatus() != null
        && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /**
   * The readiness probe of the chart's OpsChain services ({@code pg_isready -h $(DATABASE_HOST)}):
   * it passes only when the database they use answers. {@code <cluster>-rw} is CNPG's read-write
   * service, answered once the Cluster is healthy (not while it imports or hibernates); any other
   * host is the legacy Deployment of that name, answered while it has a ready pod. A container
   * without a readiness probe is ready once running, as Kubernetes treats it.
   */
  static boolean databaseAnswers(KubernetesClient client, String ns, Deployment d) {
    var containers = d.getSpec().getTemplate().getSpec().getContainers();
    var probed =
        containers.stream().filter(c -> c.getReadinessProbe() != null).findFirst().orElse(null);
    if (probed == null) {
      return true;
    }
    String host =
        probed.getEnv() == null
            ? null
            : probed.getEnv().stream()
                .filter(e -> "DATABASE_HOST".equals(e.getName()))
                .map(io.fabric8.kubernetes.api.model.EnvVar::getValue)
                .findFirst()
                .orElse(null);
    if (host == null) {
      return true;
    }
    if (host.endsWith("-rw")) {
      GenericKubernetesResource c =
          client
              .genericKubernetesResources(Controllers.CNPG_API, "Cluster")
              .inNamespace(ns)
              .withName(host.substring(0, host.length() - 3))
              .get();
      Object status = c == null ? null : c.getAdditionalProperties().get("status");
      return status instanceof Map<?, ?> m && Controllers.HEALTHY.equals(m.get("phase"));
    }
    Deployment db = client.apps().deployments().inNamespace(ns).withName(host).get();
    return db != null
        && db.getStatus() != null
        && db.getStatus().getReadyReplicas() != null
        && db.getStatus().getReadyReplicas() > 0;
  }

  /** Deletes the pod, after podGrace in the Terminating state when one is set. */
  static void terminate(
      KubernetesClient client,
      java.util.concurrent.ScheduledExecutorService queue,
      String ns,
      String pod,
      java.time.Duration podGrace) {
    if (podGrace.isZero()) {
      client.pods().inNamespace(ns).withName(pod).delete();
      return;
    }
    client
        .pods()
        .inNamespace(ns)
        .withName(pod)
        .edit(p -> {
          p.getMetadata().setDeletionTimestamp(java.time.Instant.now().toString());
          p.getMetadata().setDeletionGracePeriodSeconds(podGrace.toSeconds());
          return p;
        });
    queue.schedule(
        () -> {
          client.pods().inNamespace(ns).withName(pod).delete();
        },
        podGrace.toMillis(),
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }
}
