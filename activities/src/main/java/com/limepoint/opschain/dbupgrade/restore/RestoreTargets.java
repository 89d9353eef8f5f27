package com.limepoint.opschain.dbupgrade.restore;

import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities.RestoreTargetCheck;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities.RestoreTargetRequest;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The manual restore's two preconditions and what to set when one does not hold (see {@link
 * com.limepoint.opschain.dbupgrade.activities.RestorePodActivities#checkRestoreTarget}).
 *
 * <p>How CNPG marks the PVCs of a cluster (cloudnative-pg at a95a534dbe08): a PVC is named for its
 * instance, {@code <cluster>-<serial>} (pkg/specs/pods.go:606-609, GetInstanceName; the data PVC's
 * name is the instance name, pkg/reconciler/persistentvolumeclaim/calculator.go:135-138), labelled
 * {@code cnpg.io/instanceName} and {@code cnpg.io/pvcRole: PG_DATA} (calculator.go:122-133; PG_WAL
 * and PG_TABLESPACE for the other volumes, pkg/utils/labels_annotations.go:355-364), and, like
 * everything the cluster creates, labelled {@code cnpg.io/cluster: <cluster>} and controlled by the
 * Cluster (build.go:50-60 WithClusterInheritance; api/v1/cluster_funcs.go:1327-1337;
 * pkg/utils/ownership.go:26-37). The operator finds a cluster's PVCs by that controller reference
 * (internal/controller/cluster_controller.go:1454-1466).
 */
final class RestoreTargets {
  static final String CLUSTER_LABEL = "cnpg.io/cluster";
  static final String ROLE_LABEL = "cnpg.io/pvcRole";
  static final String DATA_ROLE = "PG_DATA";
  static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

  private final KubernetesClient client;
  private final ImageVersionPod versionPod;

  RestoreTargets(KubernetesClient client) {
    this.client = client;
    this.versionPod = new ImageVersionPod(client);
  }

  RestoreTargetCheck check(RestoreTargetRequest r) {
    List<String> problems = new ArrayList<>();
    PersistentVolumeClaim pvc =
        client.persistentVolumeClaims().inNamespace(r.namespace()).withName(r.pvcName()).get();
    Map<String, String> labels = cnpgLabels(pvc);
    List<String> owners = owners(pvc);
    pvcProblems(r, pvc, labels, problems);

    Optional<String> backup = PgVersions.dataMajor(r.backupPgVersion());
    String wanted = backup.map(v -> "a PostgreSQL " + v + " image").orElse("an image");
    if (backup.isEmpty()) {
      problems.add(
          "the backup's PG_VERSION '"
              + r.backupPgVersion()
              + "' is not a PostgreSQL major version: check base.tar.gz in the host's backup dir");
    }
    Duration timeout =
        r.timeoutSeconds() > 0 ? Duration.ofSeconds(r.timeoutSeconds()) : DEFAULT_TIMEOUT;
    ImageVersionPod.Outcome ran = versionPod.run(r.namespace(), r.restoreImage(), timeout);
    Optional<String> image = PgVersions.serverMajor(ran.output());
    if (ran.failure() != null) {
      problems.add(
          "restoreImage "
              + r.restoreImage()
              + " gave no PostgreSQL version: "
              + ran.failure()
              + ". Set restoreImage to "
              + wanted
              + " the cluster can pull");
    } else if (image.isEmpty()) {
      problems.add(
          "restoreImage "
              + r.restoreImage()
              + " printed no PostgreSQL version for `postgres --version` ('"
              + ran.output()
              + "'): set restoreImage to "
              + wanted);
    } else if (backup.isPresent() && !image.get().equals(backup.get())) {
      problems.add(
          "restoreImage "
              + r.restoreImage()
              + " is PostgreSQL "
              + image.get()
              + " but the backup is PostgreSQL "
              + backup.get()
              + ": set restoreImage to "
              + wanted);
    }
    return new RestoreTargetCheck(
        r.restoreImage(),
        ran.output(),
        image.orElse(null),
        r.backupPgVersion() == null ? null : r.backupPgVersion().strip(),
        r.pvcName(),
        pvc != null,
        labels,
        owners,
        problems);
  }

  /** The PVC exists, is labelled for the cluster, is not controlled by another, holds data. */
  private static void pvcProblems(
      RestoreTargetRequest r,
      PersistentVolumeClaim pvc,
      Map<String, String> labels,
      List<String> problems) {
    String cluster = r.clusterName();
    String hint =
        "set pvcName to the data PVC of cluster "
            + cluster
            + " (CNPG names the first instance's "
            + cluster
            + "-1; kubectl get pvc -n "
            + r.namespace()
            + " -l "
            + CLUSTER_LABEL
            + "="
            + cluster
            + " lists them)";
    String name = "pvcName " + r.pvcName();
    if (pvc == null) {
      problems.add(
          name + ": no such PersistentVolumeClaim in namespace " + r.namespace() + "; " + hint);
      return;
    }
    String labelled = labels.get(CLUSTER_LABEL);
    String controller = controllingCluster(pvc);
    if (labelled == null) {
      problems.add(
          name + " has no " + CLUSTER_LABEL + " label, so no CNPG cluster uses it; " + hint);
    } else if (!labelled.equals(cluster)) {
      problems.add(
          name
              + " belongs to cluster "
              + labelled
              + " ("
              + CLUSTER_LABEL
              + "="
              + labelled
              + "), not "
              + cluster
              + "; "
              + hint);
    } else if (controller != null && !controller.equals(cluster)) {
      problems.add(
          name + " is controlled by Cluster " + controller + ", not " + cluster + "; " + hint);
    } else if (labels.containsKey(ROLE_LABEL) && !DATA_ROLE.equals(labels.get(ROLE_LABEL))) {
      problems.add(
          name
              + " is cluster "
              + cluster
              + "'s "
              + labels.get(ROLE_LABEL)
              + " volume ("
              + ROLE_LABEL
              + "), not its "
              + DATA_ROLE
              + " volume; "
              + hint);
    }
  }

  /** The name of the CNPG Cluster that controls the PVC, if one does. */
  private static String controllingCluster(PersistentVolumeClaim pvc) {
    return pvc.getMetadata().getOwnerReferences().stream()
        .filter(o -> Boolean.TRUE.equals(o.getController()))
        .filter(o -> "Cluster".equals(o.getKind()))
        .filter(
            o -> o.getApiVersion() != null && o.getApiVersion().startsWith("postgresql.cnpg.io/"))
        .map(OwnerReference::getName)
        .findFirst()
        .orElse(null);
  }

  private static Map<String, String> cnpgLabels(PersistentVolumeClaim pvc) {
    Map<String, String> out = new TreeMap<>();
    if (pvc != null && pvc.getMetadata().getLabels() != null) {
      pvc.getMetadata()
          .getLabels()
          .forEach((k, v) -> {
            if (k.startsWith("cnpg.io/")) {
              out.put(k, v);
            }
          });
    }
    return out;
  }

  private static List<String> owners(PersistentVolumeClaim pvc) {
    if (pvc == null) {
      return List.of();
    }
    return pvc.getMetadata().getOwnerReferences().stream()
        .map(o -> o.getKind() + "/" + o.getName())
        .toList();
  }
}
