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
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Kubernetes and CNPG activities against the cluster-in-a-box. */
class KubernetesActivitiesIT {
  static final String NS = "opschain";
  static final List<String> SERVICES = OpsChainFixture.SERVICES;

  ClusterInABox box;
  KubernetesClient client;
  TestActivityEnvironment env;
  ClusterActivities cluster;
  CnpgActivities cnpg;
  LocalPostgres db;

  @BeforeEach
  void setUp() throws Exception {
    box = new ClusterInABox();
    int port = 0;
    if (LocalPostgres.available()) {
      Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "k8s-");
      db = LocalPostgres.init(dir.resolve("data/pgdata"), "opschain");
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
  }

  ClusterActivities.PreflightRequest preflightRequest(List<String> services) {
    return new ClusterActivities.PreflightRequest(
        NS, "opschain", "opschain-db", "opschain-db", services, "opschain");
  }

  @Test
  void preflightRefusesAnUnknownDatabaseSizeAndChangesNothing() throws Exception {
    if (db != null) {
      db.close(); // the database stops answering; its pod still runs
    }
    assertThatThrownBy(() -> cluster.preflight(preflightRequest(SERVICES)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.PREFLIGHT_FAILED);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains("database size unknown", "free space", "opschain-db");
            });
    assertThat(box.activityMutations()).isEmpty();
  }

  @Test
  void preflightReportsTheStateAndChangesNothing() {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        db != null, "PostgreSQL 15 is not installed: the database size cannot be read");
    ClusterActivities.PreflightResult r = cluster.preflight(preflightRequest(SERVICES));

    assertThat(r.legacyDbPresent()).isTrue();
    assertThat(r.cnpgServing()).isFalse();
    // What OpsChain is scaled back to should the host that runs Helm be gone.
    assertThat(r.replicas())
        .containsEntry("opschain-db", 1)
        .containsKeys(SERVICES.toArray(String[]::new));
    assertThat(r.checks())
        .anyMatch(c -> c.contains("permissions granted"))
        .contains("CNPG operator running: cnpg-system/cnpg-controller-manager (1 ready)")
        .anyMatch(c -> c.contains("CRD clusters.postgresql.cnpg.io is installed"));
    if (db != null) {
      assertThat(r.dbSizeBytes()).isGreaterThan(1_000_000L);
    }
    assertThat(box.activityMutations()).isEmpty();
  }

  @Test
  void preflightNamesEveryMissingPermissionAndChangesNothing() {
    box.deny("create", "pods/exec");
    box.deny("patch", "deployments");

    assertThatThrownBy(() -> cluster.preflight(preflightRequest(SERVICES)))
        .isInstanceOf(ActivityFailure.class)
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.PERMISSION_DENIED);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains("create pods/exec", "patch apps/deployments");
            });
    assertThat(box.activityMutations()).isEmpty();
  }

  @Test
  void preflightNamesAMissingDeploymentAndChangesNothing() {
    assertThatThrownBy(
            () -> cluster.preflight(preflightRequest(List.of("opschain-api", "opschain-nope"))))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.PREFLIGHT_FAILED);
              assertThat(f.getOriginalMessage()).contains("opschain-nope");
            });
    assertThat(box.activityMutations()).isEmpty();
  }

  @Test
  void awaitStoppedWaitsForTheReleasesWorkloadsAndTheirPodsButNotTheWorkersOwnDeployment() {
    // What Helm puts on every object of the release (helm/helm pkg/action/validate.go).
    Map<String, String> owned =
        Map.of("meta.helm.sh/release-name", "opschain", "meta.helm.sh/release-namespace", NS);
    List<String> release =
        List.of("opschain-db", "opschain-api", "opschain-api-worker", "opschain-log-aggregator");
    for (String d : release) {
      retryingConflicts(() ->
          client
              .apps()
              .deployments()
              .inNamespace(NS)
              .withName(d)
              .edit(x -> {
                x.getMetadata().setAnnotations(owned);
                return x;
              }));
    }
    retryingConflicts(() ->
        client
            .apps()
            .statefulSets()
            .inNamespace(NS)
            .withName("opschain-build-cache")
            .edit(x -> {
              x.getMetadata().setAnnotations(owned);
              return x;
            }));
    // deploy/worker.yaml: the worker's Deployment in the same namespace, not part of the release.
    OpsChainFixture.deployment(client, NS, "opschain-db-upgrade-worker", 1);
    // Scaled-down pods stay Terminating for 3 s, as the kubelet stops their containers.
    box.podGrace(java.time.Duration.ofSeconds(3));
    for (String d : release) {
      cluster.scaleDeployment(new ClusterActivities.ScaleRequest(NS, d, 0, false));
    }
    client.apps().statefulSets().inNamespace(NS).withName("opschain-build-cache").scale(0);
    long start = System.nanoTime();

    String seen =
        cluster.awaitWorkloadsStopped(new WaitRequest(NS, List.of(), 60, "opschain")).summary();

    long waitedMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(seen).contains("release opschain", "pods gone");
    assertThat(waitedMillis).as("waited for the Terminating pods").isGreaterThan(2_000);
    assertThat(client.pods().inNamespace(NS).withLabel("app", "opschain-db").list().getItems())
        .isEmpty();
    assertThat(
            client
                .pods()
                .inNamespace(NS)
                .withLabel("app", "opschain-db-upgrade-worker")
                .list()
                .getItems())
        .as("the worker still runs")
        .hasSize(1);
  }

  /** The harness's controllers update status meanwhile: retry a conflict, as kubectl does. */
  private static void retryingConflicts(Runnable edit) {
    for (int attempt = 0; ; attempt++) {
      try {
        edit.run();
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt > 20) {
          throw e;
        }
      }
    }
  }

  @Test
  void scaleIsIdempotentAndTheWaitsFollowTheController() {
    for (String d :
        List.of("opschain-db", "opschain-api", "opschain-api-worker", "opschain-log-aggregator")) {
      cluster.scaleDeployment(new ClusterActivities.ScaleRequest(NS, d, 0, false));
    }
    client.apps().statefulSets().inNamespace(NS).withName("opschain-build-cache").scale(0);
    assertThat(cluster.awaitWorkloadsStopped(new WaitRequest(NS, List.of(), 120)).summary())
        .contains("stopped");
    assertThat(client.pods().inNamespace(NS).withLabel("app", "opschain-db").list().getItems())
        .isEmpty();

    int before = box.activityMutations().size();
    assertThat(
            cluster
                .scaleDeployment(new ClusterActivities.ScaleRequest(NS, "opschain-db", 1, false))
                .changed())
        .isTrue();
    assertThat(
            cluster
                .scaleDeployment(new ClusterActivities.ScaleRequest(NS, "opschain-db", 1, false))
                .changed())
        .isFalse();
    assertThat(box.activityMutations()).hasSize(before + 1);
    cluster.awaitDeploymentReady(new WaitRequest(NS, List.of("opschain-db"), 120));
    assertThat(client.pods().inNamespace(NS).withLabel("app", "opschain-db").list().getItems())
        .hasSize(1);
  }

  @Test
  void dryRunScaleAndRestartChangeNothing() {
    var scaled =
        cluster.scaleDeployment(new ClusterActivities.ScaleRequest(NS, "opschain-db", 0, true));
    var restarted =
        cluster.rolloutRestart(
            new ClusterActivities.RestartRequest(NS, SERVICES, "2026-11-24T08:00:00Z", true));

    assertThat(scaled.changed()).isFalse();
    assertThat(scaled.summary()).contains("would scale");
    assertThat(restarted.summary()).contains("would restart");
    assertThat(
            client
                .apps()
                .deployments()
                .inNamespace(NS)
                .withName("opschain-db")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(1);
    assertThat(box.restarts(NS, "opschain-api")).isZero();
    assertThat(box.activityMutations()).isEmpty();
  }

  @Test
  void aRetriedRolloutRestartRestartsOnce() throws InterruptedException {
    var req = new ClusterActivities.RestartRequest(NS, SERVICES, "2026-11-24T08:00:00Z", false);

    assertThat(cluster.rolloutRestart(req).changed()).isTrue();
    awaitRestarted(SERVICES);
    // The retry (same restartedAt, as the workflow passes it) must not restart anything again.
    assertThat(cluster.rolloutRestart(req).changed()).isFalse();
    cluster.awaitRolloutComplete(new WaitRequest(NS, SERVICES, 120));
    Thread.sleep(300);

    for (String s : SERVICES) {
      assertThat(box.restarts(NS, s)).as(s).isEqualTo(1);
    }
    assertThat(box.activityMutations()).hasSize(SERVICES.size());
  }

  @Test
  void awaitDeploymentGoneReturnsOnceDeleted() {
    client.apps().deployments().inNamespace(NS).withName("opschain-db").delete();
    assertThat(
            cluster.awaitDeploymentGone(new WaitRequest(NS, List.of("opschain-db"), 120)).summary())
        .contains("gone");
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

  @Test
  void theOperatorInstalledByItsHelmChartInAnotherNamespaceIsFoundByItsLabels() {
    // helm upgrade --install cnpg -n cnpg-operator cnpg/cloudnative-pg instead of the manifest
    removeManifestOperator();
    box.installCnpgOperatorChart("cnpg", "cnpg-operator");
    cluster.awaitDeploymentReady(
        new WaitRequest("cnpg-operator", List.of("cnpg-cloudnative-pg"), 120));
    String running = "CNPG operator running: cnpg-operator/cnpg-cloudnative-pg (1 ready)";

    assertThat(cnpg.checkOperator(OPERATOR_REF).summary()).isEqualTo(running);
    if (db != null) {
      assertThat(cluster.preflight(preflightRequest(SERVICES)).checks()).contains(running);
    }
  }

  @Test
  void aRoleThatCannotListAllNamespacesFindsTheOperatorInItsDefaultNamespace() {
    // The chart as its README installs it: release cnpg in cnpg-system.
    removeManifestOperator();
    box.installCnpgOperatorChart("cnpg", "cnpg-system");
    cluster.awaitDeploymentReady(
        new WaitRequest("cnpg-system", List.of("cnpg-cloudnative-pg"), 120));
    box.forbid("GET", "^/apis/apps/v1/deployments");

    assertThat(cnpg.checkOperator(OPERATOR_REF).summary())
        .isEqualTo("CNPG operator running: cnpg-system/cnpg-cloudnative-pg (1 ready)");
  }

  @Test
  void anOperatorTheRoleCannotSeeIsSaidInTheEvidenceNotFailed() {
    // deploy/rbac.yaml's Role: Deployments in the OpsChain namespace only.
    box.forbid("GET", "^/apis/apps/v1/deployments");
    box.forbid("GET", "^/apis/apps/v1/namespaces/(?!" + NS + "/)[^/]+/deployments");
    String notVisible =
        "CNPG operator not visible to the worker's role (it may not list Deployments in all"
            + " namespaces nor in cnpg-system; none labelled app.kubernetes.io/name=cloudnative-pg"
            + " in opschain); the CRD is installed";

    var r = cnpg.checkOperator(OPERATOR_REF);

    assertThat(r.changed()).isFalse();
    assertThat(r.summary()).isEqualTo(notVisible);
    if (db != null) {
      assertThat(cluster.preflight(preflightRequest(SERVICES)).checks()).contains(notVisible);
    }
  }

  @Test
  void noOperatorInAnyNamespaceFailsTheCheckAndThePreflight() {
    removeManifestOperator();
    String absent =
        "the CNPG operator is not installed: no Deployment labelled"
            + " app.kubernetes.io/name=cloudnative-pg in any namespace";

    assertThatThrownBy(() -> cnpg.checkOperator(OPERATOR_REF))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("OperatorNotReady");
              assertThat(f.getOriginalMessage()).contains(absent);
            });
    assertThatThrownBy(() -> cluster.preflight(preflightRequest(SERVICES)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.PREFLIGHT_FAILED);
              assertThat(f.getOriginalMessage()).contains(absent);
            });
    assertThat(box.activityMutations()).isEmpty();
  }

  private static final CnpgActivities.ClusterRequest OPERATOR_REF =
      new CnpgActivities.ClusterRequest(NS, "opschain-db", false);

  /** The fixture installs the operator from the release manifest; these tests install it else. */
  private void removeManifestOperator() {
    box.client()
        .apps()
        .deployments()
        .inNamespace("cnpg-system")
        .withName("cnpg-controller-manager")
        .delete();
  }

  private void awaitRestarted(List<String> deployments) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (deployments.stream().anyMatch(d -> box.restarts(NS, d) < 1)
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
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
