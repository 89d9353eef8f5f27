package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Objects;

/**
 * Helm's {@code --wait} on the cluster-in-a-box (helm pkg/kube/ready.go): the rendered Deployments
 * and StatefulSets must have their replicas ready.
 */
final class HelmWait {
  private HelmWait() {}

  /**
   * Whether every Deployment and StatefulSet the manifest renders has its replicas ready within the
   * timeout; polled, as Helm's waiter polls (every 2 s there, every 100 ms here).
   */
  static boolean readyWithin(
      KubernetesClient client,
      String namespace,
      java.util.Collection<HasMetadata> rendered,
      int timeoutSeconds) {
    long deadline =
        System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(timeoutSeconds);
    List<HasMetadata> workloads =
        rendered.stream()
            .filter(o -> o.getKind().equals("Deployment") || o.getKind().equals("StatefulSet"))
            .toList();
    while (true) {
      if (workloads.stream().allMatch(o -> ready(client, namespace, o))) {
        return true;
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
  }

  private static boolean ready(KubernetesClient client, String namespace, HasMetadata rendered) {
    String name = rendered.getMetadata().getName();
    if (rendered.getKind().equals("Deployment")) {
      var d = client.apps().deployments().inNamespace(namespace).withName(name).get();
      if (d == null) {
        return false;
      }
      int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
      var st = d.getStatus();
      int ready = st == null || st.getReadyReplicas() == null ? 0 : st.getReadyReplicas();
      return st != null
          && Objects.equals(st.getObservedGeneration(), d.getMetadata().getGeneration())
          && ready >= want;
    }
    var s = client.apps().statefulSets().inNamespace(namespace).withName(name).get();
    if (s == null) {
      return false;
    }
    int want = s.getSpec().getReplicas() == null ? 1 : s.getSpec().getReplicas();
    var st = s.getStatus();
    return st != null && st.getReadyReplicas() != null && st.getReadyReplicas() >= want
        || want == 0;
  }
}
