package com.limepoint.opschain.dbupgrade.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities.RestoreTargetCheck;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities.RestoreTargetRequest;
import com.limepoint.opschain.dbupgrade.e2e.RbacCoverage;
import com.limepoint.opschain.dbupgrade.kube.SameRun;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.CnpgPvcs;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * checkRestoreTarget on the real control plane, as the worker's ServiceAccount bound to
 * deploy/rbac.yaml: the restore image's {@code postgres --version} runs in a short-lived pod whose
 * status and log the harness writes as its kubelet (kwok leaves that pod alone), and the PVC is
 * read as CNPG labels it ({@link CnpgPvcs}), owned by a real Cluster object.
 */
class RestoreTargetIT {
  static final String NS = "opschain";
  static final String CLUSTER = "opschain-db";

  RealCluster box;
  KubernetesClient client;
  TestActivityEnvironment env;
  RestorePodActivities restore;
  final List<Long> heartbeatNanos = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    box = new RealCluster(NS);
    client = box.activityClient();
    env = SameRun.environment("run-1", 1, details -> heartbeatNanos.add(System.nanoTime()));
    env.registerActivitiesImplementations(new RestorePodActivitiesImpl(client));
    restore = ActivityStubs.of(env, RestorePodActivities.class);
  }

  @AfterEach
  void tearDown() {
    env.close();
    box.close();
  }

  RestoreTargetRequest request(String pvcName, String image) {
    return new RestoreTargetRequest(NS, CLUSTER, pvcName, image, "15", 60);
  }

  void clusterPvc(String cluster) {
    box.cnpgDataPvc(NS, cluster, 1);
  }

  /** No pod of the check is left, and the check created and deleted only its own pod. */
  void thePodIsGone() {
    assertThat(box.client().pods().inNamespace(NS).list().getItems()).isEmpty();
    List<String> mutations = box.activityMutations();
    assertThat(mutations).contains("create /api/v1/namespaces/opschain/pods");
    assertThat(mutations)
        .filteredOn(m -> m.startsWith("delete"))
        .isNotEmpty()
        .allMatch(
            m -> m.startsWith("delete /api/v1/namespaces/opschain/pods/restore-image-check-"));
    assertThat(mutations)
        .allMatch(m -> m.contains("/pods"))
        .noneMatch(m -> m.contains("persistentvolumeclaims"));
  }

  @Test
  void theHarnessImageAndTheClustersPvcPassWithBothFactsInTheEvidence() {
    clusterPvc(CLUSTER);

    RestoreTargetCheck c =
        restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE));

    assertThat(c.problems()).isEmpty();
    assertThat(c.passes()).isTrue();
    assertThat(c.imageVersion()).startsWith("postgres (PostgreSQL) 15.");
    assertThat(c.imageMajor()).isEqualTo("15");
    assertThat(c.backupMajor()).isEqualTo("15");
    assertThat(c.pvcFound()).isTrue();
    assertThat(c.pvcLabels())
        .containsEntry("cnpg.io/cluster", CLUSTER)
        .containsEntry("cnpg.io/pvcRole", "PG_DATA")
        .containsEntry("cnpg.io/instanceName", "opschain-db-1")
        .doesNotContainKey("app.kubernetes.io/name");
    assertThat(c.pvcOwners()).containsExactly("Cluster/opschain-db");
    thePodIsGone();
  }

  @Test
  void aCnpgImageOfTheBackupsMajorPasses() {
    clusterPvc(CLUSTER);

    RestoreTargetCheck c =
        restore.checkRestoreTarget(
            request("opschain-db-1", "ghcr.io/cloudnative-pg/postgresql:15.6"));

    assertThat(c.problems()).isEmpty();
    assertThat(c.imageMajor()).isEqualTo("15");
  }

  @Test
  void aRestoreImageOfAnotherMajorIsReportedWithWhatToSet() {
    clusterPvc(CLUSTER);

    RestoreTargetCheck c = restore.checkRestoreTarget(request("opschain-db-1", "postgres:16"));

    assertThat(c.imageMajor()).isEqualTo("16");
    assertThat(c.problems())
        .containsExactly(
            "restoreImage postgres:16 is PostgreSQL 16 but the backup is PostgreSQL 15: set"
                + " restoreImage to a PostgreSQL 15 image");
    thePodIsGone();
  }

  @Test
  void theRunbooksDefaultImageIsPostgres17AndDoesNotRestoreA15Backup() {
    clusterPvc(CLUSTER);

    RestoreTargetCheck c =
        restore.checkRestoreTarget(request("opschain-db-1", "limepoint/opschain-db:17.5"));

    assertThat(c.imageMajor()).isEqualTo("17");
    assertThat(c.problems())
        .singleElement()
        .asString()
        .contains("set restoreImage to a PostgreSQL 15 image");
  }

  @Test
  void anImageWithoutPostgresIsReportedAndItsPodIsGone() {
    clusterPvc(CLUSTER);

    RestoreTargetCheck c = restore.checkRestoreTarget(request("opschain-db-1", "busybox:1.36"));

    assertThat(c.imageMajor()).isNull();
    assertThat(c.problems())
        .singleElement()
        .asString()
        .startsWith(
            "restoreImage busybox:1.36 gave no PostgreSQL version: `postgres --version`"
                + " exited 128, StartError")
        .endsWith("Set restoreImage to a PostgreSQL 15 image the cluster can pull");
    thePodIsGone();
  }

  @Test
  void anImageThatCannotBePulledIsReportedWithoutWaitingForTheTimeout() {
    clusterPvc(CLUSTER);
    box.missingImage("postgres:15.99");

    long started = System.nanoTime();
    RestoreTargetCheck c = restore.checkRestoreTarget(request("opschain-db-1", "postgres:15.99"));

    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
    assertThat(c.problems())
        .singleElement()
        .asString()
        .contains(
            "the image cannot be pulled (ImagePullBackOff: Back-off pulling image"
                + " \"postgres:15.99\"; the pull failed with: failed to pull and unpack image"
                + " \"postgres:15.99\": not found)");
    thePodIsGone();
  }

  @Test
  void aMissingPvcIsReportedWithWhatToSet() {
    RestoreTargetCheck c =
        restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE));

    assertThat(c.pvcFound()).isFalse();
    assertThat(c.pvcLabels()).isEmpty();
    assertThat(c.problems())
        .containsExactly(
            "pvcName opschain-db-1: no such PersistentVolumeClaim in namespace opschain; set"
                + " pvcName to the data PVC of cluster opschain-db (CNPG names the first"
                + " instance's opschain-db-1; kubectl get pvc -n opschain -l"
                + " cnpg.io/cluster=opschain-db lists them)");
  }

  @Test
  void aPvcOfAnotherClusterIsReported() {
    clusterPvc("billing-db");

    RestoreTargetCheck c =
        restore.checkRestoreTarget(request("billing-db-1", ClusterInABox.RESTORE_IMAGE));

    assertThat(c.pvcFound()).isTrue();
    assertThat(c.pvcOwners()).containsExactly("Cluster/billing-db");
    assertThat(c.problems())
        .singleElement()
        .asString()
        .startsWith(
            "pvcName billing-db-1 belongs to cluster billing-db (cnpg.io/cluster=billing-db), not"
                + " opschain-db; set pvcName to the data PVC of cluster opschain-db");
  }

  @Test
  void theClustersWalVolumeIsNotItsDataVolume() {
    // CNPG names the WAL PVC <instance>-wal and labels it cnpg.io/pvcRole: PG_WAL (calculator.go).
    String owner =
        box.cnpgDataPvc(NS, CLUSTER, 1).getMetadata().getOwnerReferences().get(0).getUid();
    var wal = CnpgPvcs.dataPvc(NS, CLUSTER, 1, owner);
    wal.getMetadata().setName("opschain-db-1-wal");
    wal.getMetadata().getLabels().put("cnpg.io/pvcRole", "PG_WAL");
    box.client().persistentVolumeClaims().resource(wal).create();

    RestoreTargetCheck c =
        restore.checkRestoreTarget(request("opschain-db-1-wal", ClusterInABox.RESTORE_IMAGE));

    assertThat(c.problems())
        .singleElement()
        .asString()
        .startsWith(
            "pvcName opschain-db-1-wal is cluster opschain-db's PG_WAL volume (cnpg.io/pvcRole),"
                + " not its PG_DATA volume");
  }

  @Test
  void aPvcWithoutCnpgLabelsAndAWrongImageAreBothReported() {
    box.client()
        .persistentVolumeClaims()
        .resource(
            new io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName("opschain-db-1")
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteOnce")
                .withNewResources()
                .withRequests(
                    java.util.Map.of(
                        "storage", new io.fabric8.kubernetes.api.model.Quantity("10Gi")))
                .endResources()
                .endSpec()
                .build())
        .create();

    RestoreTargetCheck c = restore.checkRestoreTarget(request("opschain-db-1", "postgres:14.11"));

    assertThat(c.problems())
        .hasSize(2)
        .anyMatch(p -> p.startsWith("pvcName opschain-db-1 has no cnpg.io/cluster label"))
        .anyMatch(p -> p.startsWith("restoreImage postgres:14.11 is PostgreSQL 14"));
  }

  @Test
  void aRetryReusesThePodItsEarlierAttemptLeftAndDeletesIt() throws Exception {
    clusterPvc(CLUSTER);
    List<Pod> created = new CopyOnWriteArrayList<>();
    Watch w = box.client().pods().inNamespace(NS).watch(added(created));
    try {
      restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE));
    } finally {
      w.close();
    }
    // The pod as the earlier attempt created it, left behind by a worker that died.
    Pod left = created.get(0);
    box.client()
        .pods()
        .inNamespace(NS)
        .withName(left.getMetadata().getName())
        .waitUntilCondition(java.util.Objects::isNull, 30, java.util.concurrent.TimeUnit.SECONDS);
    left.getMetadata().setResourceVersion(null);
    left.getMetadata().setUid(null);
    left.setStatus(null);
    box.client().pods().inNamespace(NS).resource(left).create();
    int before = box.activityMutations().size();

    RestoreTargetCheck c =
        restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE));

    assertThat(c.problems()).isEmpty();
    assertThat(box.activityMutations().subList(before, box.activityMutations().size()))
        .containsExactly("delete /api/v1/namespaces/opschain/pods/" + left.getMetadata().getName());
    assertThat(box.client().pods().inNamespace(NS).list().getItems()).isEmpty();
  }

  @Test
  void aPodOfThatNameThisRunDidNotCreateIsRefusedAndLeftAlone() throws Exception {
    clusterPvc(CLUSTER);
    List<Pod> created = new CopyOnWriteArrayList<>();
    Watch w = box.client().pods().inNamespace(NS).watch(added(created));
    try {
      restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE));
    } finally {
      w.close();
    }
    // Someone else's pod under the name this run would use: no run annotation.
    Pod foreign = created.get(0);
    box.client()
        .pods()
        .inNamespace(NS)
        .withName(foreign.getMetadata().getName())
        .waitUntilCondition(java.util.Objects::isNull, 30, java.util.concurrent.TimeUnit.SECONDS);
    foreign.getMetadata().setResourceVersion(null);
    foreign.getMetadata().setUid(null);
    foreign.getMetadata().setAnnotations(java.util.Map.of());
    foreign.setStatus(null);
    box.client().pods().inNamespace(NS).resource(foreign).create();
    int before = box.activityMutations().size();

    assertThatThrownBy(
            () -> restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE)))
        .hasStackTraceContaining("NotOwned")
        .hasStackTraceContaining("was not created by this run");

    assertThat(box.activityMutations().subList(before, box.activityMutations().size())).isEmpty();
    assertThat(box.client().pods().inNamespace(NS).withName(foreign.getMetadata().getName()).get())
        .isNotNull();
  }

  @Test
  void aPodThatDoesNotFinishInTimeFailsRetryablyHeartbeatingAndIsDeleted() {
    clusterPvc(CLUSTER);
    box.imagePullTakes("postgres:15.6", Duration.ofMinutes(5));
    long started = System.nanoTime();

    assertThatThrownBy(() ->
            restore.checkRestoreTarget(
                new RestoreTargetRequest(NS, CLUSTER, "opschain-db-1", "postgres:15.6", "15", 12)))
        .isInstanceOf(ActivityFailure.class)
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("PodNotReady");
              assertThat(f.isNonRetryable()).isFalse();
              assertThat(f.getOriginalMessage()).contains("Pending (ContainerCreating)");
            });
    long ended = System.nanoTime();
    // A heartbeat at least every 10 s while it waited (the SDK's timeout here is 45 s).
    List<Long> beats = heartbeatNanos;
    assertThat(beats).hasSizeGreaterThanOrEqualTo(2);
    assertThat(beats.get(0) - started).isLessThan(Duration.ofSeconds(10).toNanos());
    for (int i = 1; i < beats.size(); i++) {
      assertThat(beats.get(i) - beats.get(i - 1)).isLessThan(Duration.ofSeconds(10).toNanos());
    }
    assertThat(ended - beats.get(beats.size() - 1)).isLessThan(Duration.ofSeconds(10).toNanos());
    thePodIsGone();
  }

  @Test
  void everyCallTheCheckMakesIsGrantedByTheRole() throws Exception {
    clusterPvc(CLUSTER);
    restore.checkRestoreTarget(request("opschain-db-1", ClusterInABox.RESTORE_IMAGE));

    Set<String> needed = new java.util.TreeSet<>();
    box.activityRequests().forEach(r -> needed.addAll(RbacCoverage.needs(r)));

    assertThat(needed)
        .contains("/persistentvolumeclaims get", "/pods create", "/pods delete", "/pods/log get");
    assertThat(RbacCoverage.granted()).containsAll(needed);
  }

  private static Watcher<Pod> added(List<Pod> out) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        if (action == Action.ADDED) {
          out.add(pod);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }
}
