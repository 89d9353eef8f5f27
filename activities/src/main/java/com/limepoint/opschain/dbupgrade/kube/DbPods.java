package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ApplicationFailure;
import java.util.Comparator;
import java.util.Map;

/** Finds the running, ready pod of a deployment (the runbook's {@code -l app=opschain-db}). */
public final class DbPods {
  private DbPods() {}

  public static String readyPod(KubernetesClient client, String namespace, String deployment) {
    Deployment d = client.apps().deployments().inNamespace(namespace).withName(deployment).get();
    if (d == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "deployment " + namespace + "/" + deployment + " not found", "PreflightFailed");
    }
    Map<String, String> selector = d.getSpec().getSelector().getMatchLabels();
    return client.pods().inNamespace(namespace).withLabels(selector).list().getItems().stream()
        .filter(DbPods::isReady)
        .max(
            Comparator.comparing(p ->
                p.getMetadata().getCreationTimestamp() == null
                    ? ""
                    : p.getMetadata().getCreationTimestamp()))
        .map(p -> p.getMetadata().getName())
        .orElseThrow(() ->
            ApplicationFailure.newFailure(
                "no running, ready pod of deployment " + namespace + "/" + deployment + " yet",
                "PodNotReady"));
  }

  public static boolean isReady(Pod p) {
    return p.getStatus() != null
        && "Running".equals(p.getStatus().getPhase())
        && p.getMetadata().getDeletionTimestamp() == null
        && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }
}
