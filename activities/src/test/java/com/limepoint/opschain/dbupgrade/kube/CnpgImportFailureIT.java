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
 * An import that always fails, on the cluster-in-a-box, whose simulated Job gives up after one
 * retry. Not on the real control plane ({@link CnpgImportIT}): there CNPG's Job has no
 * backoffLimit, so Kubernetes retries it six times with its back-off (10 s, doubling), and the Job
 * fails after about ten and a half minutes; issue 32 changes how awaitImport tells a failure that
 * repeats from one the Job's retry mends.
 */
class CnpgImportFailureIT {
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
