package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgActivitiesImpl;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture;
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
 * The CNPG activities that follow the import Job and hibernation, on the cluster-in-a-box: they
 * need CNPG's Cluster controller, which the harness models on the mock API server only until it is
 * rewritten from CNPG's source for the real one (issue 32). The other Kubernetes activities are
 * tested on the real control plane ({@link KubernetesActivitiesIT}).
 */
class CnpgImportIT {
  static final String NS = "opschain";
  static final List<String> SERVICES = OpsChainFixture.SERVICES;

  ClusterInABox box;
  KubernetesClient client;
  TestActivityEnvironment env;
  ClusterActivities cluster;
  CnpgActivities cnpg;
  LocalPostgres db;
  Path sandbox;

  @BeforeEach
  void setUp() throws Exception {
    box = new ClusterInABox();
    int port = 0;
    if (LocalPostgres.available()) {
      sandbox = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("k8s-");
      db = LocalPostgres.init(sandbox.resolve("data/pgdata"), "opschain");
      port = db.port();
    }
    OpsChainFixture.install(box, NS, port);
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
    client.close();
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

  @Test
  void aFailedImportPodIsImportFailedWithItsLogTail() {
    box.importFails(true, "pg_restore: error: could not connect\nFATAL: import aborted");
    createCluster(true);

    assertThatThrownBy(
            () -> cnpg.awaitImport(new CnpgActivities.ImportRequest(NS, "opschain-db", 120)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.IMPORT_FAILED);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains(
                      "import Job opschain-db-1-import failed after 2 failed pod(s)",
                      "FATAL: import aborted");
            });
    // The pods are the Job's, with generated names, as Kubernetes makes them.
    assertThat(
            client
                .pods()
                .inNamespace(NS)
                .withLabel("batch.kubernetes.io/job-name", "opschain-db-1-import")
                .list()
                .getItems())
        .hasSize(2)
        .allSatisfy(
            p -> assertThat(p.getMetadata().getName()).matches("opschain-db-1-import-[a-z0-9]{5}"));
  }

  @Test
  void anImportPodThatFailsOnceIsRetriedByItsJobAndTheImportSucceeds() {
    box.importFailsOnce("FATAL: connection reset");
    createCluster(true);

    CnpgActivities.ImportResult r =
        cnpg.awaitImport(new CnpgActivities.ImportRequest(NS, "opschain-db", 120));

    assertThat(r.phase()).isEqualTo("Cluster in healthy state");
    assertThat(r.logTail()).as("the log of the pod that succeeded").contains("importing... done");
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
            client
                .pods()
                .inNamespace(NS)
                .withLabel("cnpg.io/cluster", "opschain-db")
                .list()
                .getItems())
        .isEmpty();

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
    assertThat(cnpg.checkOperator(ref).summary()).contains("running");
  }

  private static final CnpgActivities.ClusterRequest OPERATOR_REF =
      new CnpgActivities.ClusterRequest(NS, "opschain-db", false);

  private void createCluster(boolean withImport) {
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
            .endMetadata()
            .addToAdditionalProperties("spec", spec)
            .build();
    box.client()
        .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
        .inNamespace(NS)
        .resource(c)
        .create();
  }
}
