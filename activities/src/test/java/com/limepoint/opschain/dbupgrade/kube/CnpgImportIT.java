package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgActivitiesImpl;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.CnpgController;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The CNPG activities that follow the bootstrap Job and hibernation, on the real control plane as
 * the worker's ServiceAccount: the Job, its pods (named by the Job controller, retried with its
 * back-off), the PVC and the garbage collection are Kubernetes' own; the Cluster controller is the
 * harness's model of CNPG v1.30.0 ({@link CnpgController}).
 */
class CnpgImportIT {
  static final String NS = "opschain";
  static final List<String> SERVICES = OpsChainFixture.SERVICES;

  RealCluster box;
  KubernetesClient client;
  TestActivityEnvironment env;
  ClusterActivities cluster;
  CnpgActivities cnpg;
  LocalPostgres db;
  Path sandbox;

  @BeforeEach
  void setUp() throws Exception {
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    box = new RealCluster(NS);
    int port = 0;
    if (LocalPostgres.available()) {
      sandbox = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("k8s-");
      db = LocalPostgres.init(sandbox.resolve("data/pgdata"), "opschain");
      port = db.port();
    }
    OpsChainFixture.install(box, port);
    box.cnpg();
    client = box.activityClient();
    env = TestActivityEnvironment.newInstance();
    env.registerActivitiesImplementations(
        new ClusterActivitiesImpl(client), new CnpgActivitiesImpl(client));
    cluster = ActivityStubs.of(env, ClusterActivities.class);
    cnpg = ActivityStubs.of(env, CnpgActivities.class);
    cluster.awaitDeploymentReady(new WaitRequest(NS, List.of("opschain-db"), 120));
  }

  @AfterEach
  void tearDown() throws Exception {
    env.close();
    box.close();
    if (db != null) {
      db.close();
    }
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(sandbox);
  }

  @Test
  void importSucceedsWhenTheClusterIsHealthyAndTheImportPodDone() {
    createCluster(true);

    CnpgActivities.ImportResult r =
        cnpg.awaitImport(new CnpgActivities.ImportRequest(NS, "opschain-db", 120));

    assertThat(r.phase()).isEqualTo("Cluster in healthy state");
    assertThat(r.readyInstances()).isEqualTo(r.instances()).isEqualTo(1);
  }

  /**
   * An import that fails the same way every time: the Job would go on for about ten and a half
   * minutes (six retries, Kubernetes' back-off from 10 s, doubling); the failure is seen at the
   * second failed pod, with its log.
   */
  @Test
  void anImportThatFailsTheSameWayTwiceIsImportFailedWithItsLogTail() {
    box.cnpg()
        .importFails(
            "pg_restore: error: could not execute query: ERROR:  role \"app\" does not exist\n"
                + "FATAL: import aborted");
    createCluster(true);
    long started = System.nanoTime();

    assertThatThrownBy(
            () -> cnpg.awaitImport(new CnpgActivities.ImportRequest(NS, "opschain-db", 600)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.IMPORT_FAILED);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains(
                      "import Job opschain-db-1-import failed after 2 failed pod(s) with the same"
                          + " error",
                      "FATAL: import aborted");
            });
    assertThat(java.time.Duration.ofNanos(System.nanoTime() - started))
        .isLessThan(java.time.Duration.ofSeconds(60));
    // The pods are the Job's, named by the Job controller.
    assertThat(
            box.client()
                .pods()
                .inNamespace(NS)
                .withLabel("batch.kubernetes.io/job-name", "opschain-db-1-import")
                .list()
                .getItems())
        .hasSizeGreaterThanOrEqualTo(2)
        .allSatisfy(
            p -> assertThat(p.getMetadata().getName()).matches("opschain-db-1-import-[a-z0-9]{5}"));
  }

  @Test
  void anImportPodThatFailsOnceIsRetriedByItsJobAndTheImportSucceeds() {
    box.cnpg().importFailsOnce("FATAL: connection reset");
    List<String> phases = new java.util.concurrent.CopyOnWriteArrayList<>();
    var watch =
        box.client()
            .pods()
            .inNamespace(NS)
            .withLabel("batch.kubernetes.io/job-name", "opschain-db-1-import")
            .watch(
                new io.fabric8.kubernetes.client.Watcher<>() {
                  @Override
                  public void eventReceived(Action a, io.fabric8.kubernetes.api.model.Pod p) {
                    if (p.getStatus() != null && p.getStatus().getPhase() != null) {
                      phases.add(p.getMetadata().getName() + " " + p.getStatus().getPhase());
                    }
                  }

                  @Override
                  public void onClose(io.fabric8.kubernetes.client.WatcherException e) {}
                });
    try {
      createCluster(true);

      CnpgActivities.ImportResult r =
          cnpg.awaitImport(new CnpgActivities.ImportRequest(NS, "opschain-db", 120));

      assertThat(r.phase()).isEqualTo("Cluster in healthy state");
      assertThat(r.readyInstances()).isEqualTo(1);
    } finally {
      watch.close();
    }
    // Two pods of the Job, named by the Job controller: the first failed, the retry succeeded.
    assertThat(phases)
        .anyMatch(x -> x.matches("opschain-db-1-import-[a-z0-9]{5} Failed"))
        .anyMatch(x -> x.matches("opschain-db-1-import-[a-z0-9]{5} Succeeded"));
    assertThat(phases.stream().map(x -> x.split(" ")[0]).distinct()).hasSize(2);
  }

  @Test
  void hibernationDeleteAndWaitsAreIdempotent() {
    createCluster(false);
    cnpg.awaitClusterHealthy(new CnpgActivities.ImportRequest(NS, "opschain-db", 120));
    var on = new CnpgActivities.HibernationRequest(NS, "opschain-db", true, false);
    var ref = new CnpgActivities.ClusterRequest(NS, "opschain-db", false);

    assertThat(cnpg.setHibernation(on).changed()).isTrue();
    assertThat(cnpg.setHibernation(on).changed()).isFalse();
    cnpg.awaitDbPodGone(ref);
    assertThat(
            box.client()
                .pods()
                .inNamespace(NS)
                .withLabel("cnpg.io/cluster", "opschain-db")
                .withLabel("cnpg.io/podRole", "instance")
                .list()
                .getItems())
        .isEmpty();
    assertThat(
            box.client().persistentVolumeClaims().inNamespace(NS).withName("opschain-db-1").get())
        .as("hibernation keeps the volume")
        .isNotNull();

    var off = new CnpgActivities.HibernationRequest(NS, "opschain-db", false, false);
    assertThat(cnpg.setHibernation(off).changed()).isTrue();
    assertThat(cnpg.setHibernation(off).changed()).isFalse();
    assertThat(
            cnpg.awaitClusterHealthy(new CnpgActivities.ImportRequest(NS, "opschain-db", 120))
                .phase())
        .isEqualTo("Cluster in healthy state");

    int before = box.activityMutations().size();
    assertThat(cnpg.deleteCluster(ref).changed()).isTrue();
    assertThat(cnpg.deleteCluster(ref).changed()).isFalse();
    assertThat(box.activityMutations()).hasSize(before + 1);
    // The shipped Role cannot see the operator in cnpg-system: the served CRD is what it checks.
    assertThat(cnpg.checkOperator(ref).summary()).contains("the CRD is installed");
    // The garbage collector removes what the Cluster owned.
    box.client()
        .persistentVolumeClaims()
        .inNamespace(NS)
        .withName("opschain-db-1")
        .waitUntilCondition(
            p -> p == null || p.getMetadata().getDeletionTimestamp() != null,
            60,
            java.util.concurrent.TimeUnit.SECONDS);
  }

  /**
   * CNPG's instance manager runs PostgreSQL on the instance's volume while its pod runs: the data a
   * manual restore wrote there is served, and hibernation stops the server, keeping the data.
   */
  @Test
  void theInstanceServesItsVolumeAndStopsWhileHibernated() throws Exception {
    Required.postgres();
    Path pgdata = sandbox.resolve("cnpg/data/pgdata");
    LocalPostgres restored = LocalPostgres.init(pgdata, "opschain");
    restored.sql("opschain", "CREATE TABLE restored(id int)");
    restored.close();
    box.cnpgDataAt(NS, "opschain-db", pgdata);
    createCluster(false);
    cnpg.awaitClusterHealthy(new CnpgActivities.ImportRequest(NS, "opschain-db", 120));

    assertThat(box.cnpgInstance(NS, "opschain-db").sql("opschain", "SELECT count(*) FROM restored"))
        .isEqualTo("0");
    var ref = new CnpgActivities.ClusterRequest(NS, "opschain-db", false);
    cnpg.setHibernation(new CnpgActivities.HibernationRequest(NS, "opschain-db", true, false));
    cnpg.awaitDbPodGone(ref);
    assertThat(box.cnpgInstance(NS, "opschain-db")).as("stopped with its pod").isNull();
    cnpg.setHibernation(new CnpgActivities.HibernationRequest(NS, "opschain-db", false, false));
    cnpg.awaitClusterHealthy(new CnpgActivities.ImportRequest(NS, "opschain-db", 120));
    assertThat(box.cnpgInstance(NS, "opschain-db").sql("opschain", "SELECT count(*) FROM restored"))
        .isEqualTo("0");
  }

  /**
   * The manual restore's redeploy: a Cluster created already annotated for hibernation. CNPG first
   * runs its initdb Job and starts the instance, and only a healthy cluster hibernates, so the wait
   * for the volume to be free must not return when no pod exists yet (issue 32: the restore pod
   * would mount the volume while initdb writes it).
   */
  @Test
  void aClusterCreatedHibernatedIsWaitedForUntilItsInitdbAndInstanceHaveGone() {
    List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    var watch =
        box.client()
            .pods()
            .inNamespace(NS)
            .withLabel("cnpg.io/cluster", "opschain-db")
            .watch(
                new io.fabric8.kubernetes.client.Watcher<>() {
                  @Override
                  public void eventReceived(Action a, io.fabric8.kubernetes.api.model.Pod p) {
                    seen.add(a + " " + p.getMetadata().getName());
                  }

                  @Override
                  public void onClose(io.fabric8.kubernetes.client.WatcherException e) {}
                });
    try {
      createCluster(false, Map.of("cnpg.io/hibernation", "on"));

      cnpg.awaitDbPodGone(new CnpgActivities.ClusterRequest(NS, "opschain-db", false));
    } finally {
      watch.close();
    }
    assertThat(seen)
        .as(
            "the initdb Job's pod and the instance came and the instance went before the wait ended")
        .anyMatch(x -> x.matches("ADDED opschain-db-1-initdb-[a-z0-9]{5}"))
        .contains("ADDED opschain-db-1", "DELETED opschain-db-1");
    var c =
        box.client()
            .genericKubernetesResources(CnpgController.CLUSTERS)
            .inNamespace(NS)
            .withName("opschain-db")
            .get();
    assertThat(
            com.limepoint.opschain.dbupgrade.cnpg.CnpgClusters.condition(c, "cnpg.io/hibernation"))
        .containsEntry("status", "True")
        .containsEntry("reason", "Hibernated");
    assertThat(com.limepoint.opschain.dbupgrade.cnpg.CnpgClusters.phase(c))
        .as("the phase keeps its text")
        .isEqualTo("Cluster in healthy state");
  }

  private void createCluster(boolean withImport) {
    createCluster(withImport, Map.of());
  }

  private void createCluster(boolean withImport, Map<String, String> annotations) {
    Map<String, Object> spec =
        withImport
            ? Map.of(
                "instances",
                1,
                "bootstrap",
                Map.of("initdb", Map.of("import", Map.of("type", "microservice"))))
            : Map.of("instances", 1);
    GenericKubernetesResource c =
        new GenericKubernetesResourceBuilder()
            .withApiVersion("postgresql.cnpg.io/v1")
            .withKind("Cluster")
            .withNewMetadata()
            .withName("opschain-db")
            .withNamespace(NS)
            .withAnnotations(annotations)
            .endMetadata()
            .addToAdditionalProperties("spec", spec)
            .build();
    box.client()
        .genericKubernetesResources(CnpgController.CLUSTERS)
        .inNamespace(NS)
        .resource(c)
        .create();
  }
}
