package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.temporal.failure.ApplicationFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What the cluster waits look at: the deployments and statefulsets that still run, the deployments
 * not ready or not rolled out, and the informers that wake a wait when any of them changes.
 */
final class Workloads {
  private final KubernetesClient client;

  Workloads(KubernetesClient client) {
    this.client = client;
  }

  /** Helm 3's ownership annotations (helm/helm pkg/action/validate.go, setMetadataVisitor). */
  static final String RELEASE_NAME = "meta.helm.sh/release-name";

  static final String RELEASE_NAMESPACE = "meta.helm.sh/release-namespace";

  /**
   * The selected deployments and statefulsets that still have replicas, and then the pods they
   * selected that are still there (Terminating ones included: a scaled-down deployment reports 0
   * replicas while its pod still holds the volume).
   */
  List<String> running(WaitRequest r) {
    List<String> running = new ArrayList<>();
    List<Map<String, String>> selectors = new ArrayList<>();
    for (Deployment d : client.apps().deployments().inNamespace(r.namespace()).list().getItems()) {
      if (selected(r, d.getMetadata())) {
        selectors.add(d.getSpec().getSelector().getMatchLabels());
        if (replicas(d.getSpec().getReplicas()) > 0
            || replicas(d.getStatus() == null ? null : d.getStatus().getReplicas()) > 0) {
          running.add("deployment/" + d.getMetadata().getName());
        }
      }
    }
    for (StatefulSet s :
        client.apps().statefulSets().inNamespace(r.namespace()).list().getItems()) {
      if (selected(r, s.getMetadata())) {
        selectors.add(s.getSpec().getSelector().getMatchLabels());
        if (replicas(s.getSpec().getReplicas()) > 0
            || replicas(s.getStatus() == null ? null : s.getStatus().getReplicas()) > 0) {
          running.add("statefulset/" + s.getMetadata().getName());
        }
      }
    }
    if (running.isEmpty()) {
      for (Map<String, String> selector : selectors) {
        if (selector == null || selector.isEmpty()) {
          continue;
        }
        for (Pod p :
            client.pods().inNamespace(r.namespace()).withLabels(selector).list().getItems()) {
          running.add(
              "pod/"
                  + p.getMetadata().getName()
                  + (p.getMetadata().getDeletionTimestamp() == null ? "" : " (terminating)"));
        }
      }
    }
    return running;
  }

  List<String> notReady(WaitRequest r) {
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

  List<String> incomplete(WaitRequest r) {
    List<String> out = new ArrayList<>();
    for (String name : r.names()) {
      Deployment d = deployment(r.namespace(), name);
      if (d == null || !available(d)) {
        out.add(name);
      }
    }
    return out;
  }

  Deployment deployment(String ns, String name) {
    return client.apps().deployments().inNamespace(ns).withName(name).get();
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

  @SuppressWarnings({"rawtypes", "unchecked"})
  Function<ResourceEventHandler, SharedIndexInformer<?>> deployments(String ns) {
    return h -> client.apps().deployments().inNamespace(ns).inform(h, Waits.RESYNC_MILLIS);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  Function<ResourceEventHandler, SharedIndexInformer<?>> statefulSets(String ns) {
    return h -> client.apps().statefulSets().inNamespace(ns).inform(h, Waits.RESYNC_MILLIS);
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  Function<ResourceEventHandler, SharedIndexInformer<?>> pods(String ns) {
    return h -> client.pods().inNamespace(ns).inform(h, Waits.RESYNC_MILLIS);
  }

  private static boolean selected(WaitRequest r, ObjectMeta meta) {
    if (!r.names().isEmpty()) {
      return r.names().contains(meta.getName());
    }
    if (r.release() == null) {
      return true;
    }
    Map<String, String> a = meta.getAnnotations() == null ? Map.of() : meta.getAnnotations();
    return r.release().equals(a.get(RELEASE_NAME))
        && r.namespace().equals(a.getOrDefault(RELEASE_NAMESPACE, r.namespace()));
  }

  private static int replicas(Integer n) {
    return n == null ? 0 : n;
  }
}
