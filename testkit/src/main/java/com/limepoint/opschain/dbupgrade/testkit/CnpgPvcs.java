package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Map;

/**
 * The data PVC of a CNPG cluster's instance, as the operator creates it (cloudnative-pg at
 * a95a534dbe08): named for the instance, {@code <cluster>-<serial>} (pkg/specs/pods.go:606-609 and
 * pkg/reconciler/persistentvolumeclaim/calculator.go:135-138), labelled {@code
 * cnpg.io/instanceName}, {@code cnpg.io/pvcRole: PG_DATA} and the app labels
 * (calculator.go:122-133), labelled {@code cnpg.io/cluster} and controlled by the Cluster
 * (build.go:50-60, api/v1/cluster_funcs.go:1327-1337, pkg/utils/ownership.go:26-37), annotated with
 * the serial (build.go:55-58).
 */
public final class CnpgPvcs {
  private CnpgPvcs() {}

  /** On the mock API server, which collects no garbage: the owner's uid is made up. */
  public static PersistentVolumeClaim dataPvc(String namespace, String cluster, int serial) {
    return dataPvc(namespace, cluster, serial, "uid-of-cluster-" + cluster);
  }

  /**
   * Owned by the Cluster whose uid is {@code clusterUid}: a real API server's garbage collector
   * deletes a dependent whose owner does not exist.
   */
  public static PersistentVolumeClaim dataPvc(
      String namespace, String cluster, int serial, String clusterUid) {
    String instance = cluster + "-" + serial;
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withName(instance)
        .withNamespace(namespace)
        .withLabels(
            Map.of(
                "cnpg.io/cluster", cluster,
                "cnpg.io/instanceName", instance,
                "cnpg.io/pvcRole", "PG_DATA",
                "app.kubernetes.io/managed-by", "cloudnative-pg",
                "app.kubernetes.io/name", "postgresql",
                "app.kubernetes.io/component", "database"))
        .withAnnotations(
            Map.of("cnpg.io/nodeSerial", Integer.toString(serial), "cnpg.io/pvcStatus", "ready"))
        .addNewOwnerReference()
        .withApiVersion("postgresql.cnpg.io/v1")
        .withKind("Cluster")
        .withName(cluster)
        .withUid(clusterUid)
        .withController(true)
        .endOwnerReference()
        .endMetadata()
        .withNewSpec()
        .withAccessModes("ReadWriteOnce")
        .withNewResources()
        .withRequests(Map.of("storage", new Quantity("10Gi")))
        .endResources()
        .endSpec()
        .build();
  }
}
