package com.limepoint.opschain.dbupgrade.cnpg;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.Map;

/**
 * CloudNativePG's {@code Cluster} as the activities read it: where it lives in the API, its status
 * and when it counts as healthy. The phase string is CNPG's own ({@code PhaseHealthy} in its {@code
 * api/v1/cluster_types.go}). Used by the preflight and by the CNPG steps alike.
 */
public final class CnpgClusters {
  public static final String API = "postgresql.cnpg.io/v1";
  public static final String KIND = "Cluster";
  public static final String HEALTHY = "Cluster in healthy state";

  private CnpgClusters() {}

  public static Resource<GenericKubernetesResource> resource(
      KubernetesClient client, String namespace, String name) {
    return client.genericKubernetesResources(API, KIND).inNamespace(namespace).withName(name);
  }

  /** The cluster, or null when there is none (or no such resource type yet). */
  public static GenericKubernetesResource get(
      KubernetesClient client, String namespace, String name) {
    try {
      return resource(client, namespace, name).get();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return null;
      }
      throw e;
    }
  }

  /** Healthy phase, and every instance ready. */
  public static boolean healthy(GenericKubernetesResource cluster) {
    Map<String, Object> status = status(cluster);
    return HEALTHY.equals(status.get("phase"))
        && status.get("readyInstances") instanceof Number ready
        && status.get("instances") instanceof Number instances
        && ready.intValue() == instances.intValue();
  }

  @SuppressWarnings("unchecked")
  public static Map<String, Object> status(GenericKubernetesResource cluster) {
    Object s = cluster.getAdditionalProperties().get("status");
    return s instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  /** The status condition of this type, or null. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> condition(GenericKubernetesResource cluster, String type) {
    if (status(cluster).get("conditions") instanceof java.util.List<?> conditions) {
      for (Object x : conditions) {
        if (x instanceof Map<?, ?> m && type.equals(m.get("type"))) {
          return (Map<String, Object>) m;
        }
      }
    }
    return null;
  }

  public static String phase(GenericKubernetesResource cluster) {
    Object p = status(cluster).get("phase");
    return p == null ? "(no phase yet)" : p.toString();
  }
}
