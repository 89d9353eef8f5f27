package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Helm activities on the cluster-in-a-box: the test chart rendered by the real Helm. */
class HelmActivitiesIT {
  static final String NS = "opschain";
  static final String USER_VALUES = "db:\n  volume:\n    storageClass: null\n    size: 10Gi\n";
  static final String MIGRATION_VALUES =
      USER_VALUES
          + "  cnpg:\n    storage:\n      storageClass: null\n      size: 10Gi\n  recoveryMode: true\n";

  ClusterInABox box;
  ChartReleases releases;
  TestActivityEnvironment env;
  HelmActivities helm;
  Path dir;
  Path userValues;
  Path migrationValues;

  @BeforeEach
  void setUp() throws Exception {
    dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "helm-");
    userValues = Files.writeString(dir.resolve("values.yaml"), USER_VALUES);
    migrationValues = Files.writeString(dir.resolve("values.migration.yaml"), MIGRATION_VALUES);
    box = new ClusterInABox();
    box.client()
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
    releases = new ChartReleases(box.client(), ChartReleases.testChart(dir));
    releases.upgrade(
        new ChartReleases.Call(
            NS,
            "opschain",
            "2025-10-01",
            List.of(userValues.toString()),
            Map.of(),
            "Install complete"));
    env = com.limepoint.opschain.dbupgrade.kube.SameRun.environment("helm-run", 1);
    env.registerActivitiesImplementations(new HelmActivitiesImpl(new BoxHelmReleases(releases)));
    helm = ActivityStubs.of(env, HelmActivities.class);
  }

  @AfterEach
  void tearDown() {
    env.close();
    box.close();
  }

  HelmActivities.UpgradeRequest request(
      String version, Path values, Map<String, String> set, String step, boolean dryRun) {
    return new HelmActivities.UpgradeRequest(
        NS,
        "opschain",
        "/charts/opschain",
        version,
        List.of(values.toString()),
        set,
        step,
        600,
        dryRun,
        false);
  }

  @Test
  void releaseStatusReadsTheDeployedRevision() {
    HelmActivities.ReleaseInfo info =
        helm.releaseStatus(new HelmActivities.ReleaseRequest(NS, "opschain"));

    assertThat(info.exists()).isTrue();
    assertThat(info.chartVersion()).isEqualTo("2025-10-01");
    assertThat(info.revision()).isEqualTo(1);
    assertThat(helm.releaseStatus(new HelmActivities.ReleaseRequest(NS, "nope")).exists())
        .isFalse();
  }

  @Test
  void theUpgradeAppliesTheRenderedObjectsAndARetryIsANoOp() {
    var req = request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false);

    HelmActivities.HelmResult first = helm.upgrade(req);
    HelmActivities.HelmResult retry = helm.upgrade(req);

    assertThat(first.changed()).isTrue();
    assertThat(first.revision()).isEqualTo(2);
    assertThat(retry.changed()).isFalse();
    assertThat(retry.revision()).isEqualTo(2);
    assertThat(releases.history(NS, "opschain")).hasSize(2);
    GenericKubernetesResource cluster =
        box.client()
            .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
            .inNamespace(NS)
            .withName("opschain-db")
            .get();
    assertThat(cluster).isNotNull();
    assertThat(cluster.getAdditionalProperties().get("spec").toString()).contains("import");
    assertThat(box.client().apps().deployments().inNamespace(NS).withName("opschain-db").get())
        .isNotNull();
  }

  /**
   * A Helm call blocks for as long as its {@code --wait} (minutes), so it must not sit on the
   * common pool: on JDK 25 with two CPUs that pool has a single worker, and the JDK HTTP client
   * completes every Kubernetes request there, so while Helm waited on it no API call of the worker
   * got its answer (ChaosIT's stall). Asked inside the call: on the old code both fail here.
   */
  @Test
  void aHelmCallRunsOnAThreadOfItsOwnNotOnTheCommonPool() {
    var seen = new java.util.concurrent.atomic.AtomicReference<Thread>();
    var inPool = new java.util.concurrent.atomic.AtomicBoolean(true);
    BoxHelmReleases inner = new BoxHelmReleases(releases);
    HelmReleases watching =
        new HelmReleases() {
          @Override
          public List<Revision> history(String namespace, String release) {
            return inner.history(namespace, release);
          }

          @Override
          public Revision upgrade(HelmCall call) {
            seen.set(Thread.currentThread());
            inPool.set(java.util.concurrent.ForkJoinTask.inForkJoinPool());
            return inner.upgrade(call);
          }

          @Override
          public Revision rollback(String ns, String release, int to, String description) {
            return inner.rollback(ns, release, to, description);
          }

          @Override
          public String render(HelmCall call) {
            return inner.render(call);
          }
        };
    TestActivityEnvironment own =
        com.limepoint.opschain.dbupgrade.kube.SameRun.environment("helm-run", 1);
    try {
      own.registerActivitiesImplementations(new HelmActivitiesImpl(watching));
      ActivityStubs.of(own, HelmActivities.class)
          .upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false));
    } finally {
      own.close();
    }
    assertThat(inPool).as("ran in a ForkJoinPool").isFalse();
    assertThat(seen.get().getName()).startsWith("helm-call-");
    assertThat(seen.get().isVirtual()).isFalse();
  }

  /** The migration deploy with a 1-second timeout, while the import takes 3 s. */
  private HelmActivities.UpgradeRequest migrationDuringASlowImport(boolean noWait) {
    box.onImport(() -> {
      try {
        Thread.sleep(3_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    return new HelmActivities.UpgradeRequest(
        NS,
        "opschain",
        "/charts/opschain",
        "2026-02-10",
        List.of(migrationValues.toString()),
        Map.of(),
        "upgradeRelease",
        1,
        false,
        noWait);
  }

  private GenericKubernetesResource cnpgCluster() {
    return box.client()
        .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
        .inNamespace(NS)
        .withName("opschain-db")
        .get();
  }

  @Test
  void
      withWaitAndAtomicHelmTimesOutWhileTheServicesWaitForTheImportAndItsRollbackDeletesTheCluster() {
    var req = migrationDuringASlowImport(false);

    assertThatThrownBy(() -> helm.upgrade(req))
        .hasStackTraceContaining("has been rolled back due to atomic being set");

    assertThat(releases.history(NS, "opschain"))
        .extracting(ChartReleases.Revision::status, ChartReleases.Revision::description)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("superseded", "Install complete"),
            org.assertj.core.groups.Tuple.tuple(
                "failed", "Upgrade \"opschain\" failed: context deadline exceeded"),
            org.assertj.core.groups.Tuple.tuple("deployed", "Rollback to 1"));
    assertThat(cnpgCluster()).as("the rollback deleted the importing cluster").isNull();
  }

  @Test
  void pastThePointOfNoReturnTheDeployNeitherWaitsNorRollsBackAndTheImportGoesOn()
      throws InterruptedException {
    var req = migrationDuringASlowImport(true);

    HelmActivities.HelmResult r = helm.upgrade(req);

    assertThat(r.status()).isEqualTo("deployed");
    assertThat(cnpgCluster()).isNotNull();
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!String.valueOf(cnpgCluster().getAdditionalProperties().get("status"))
            .contains("Cluster in healthy state")
        && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(String.valueOf(cnpgCluster().getAdditionalProperties().get("status")))
        .contains("Cluster in healthy state");
    assertThat(releases.history(NS, "opschain"))
        .extracting(ChartReleases.Revision::status)
        .containsExactly("superseded", "deployed");
  }

  @Test
  void stoppedScalesTheServicesToZero() {
    helm.upgrade(
        request("2025-10-01", userValues, Map.of("stopped", "true"), "stopOpsChain", false));

    assertThat(box.client().apps().deployments().inNamespace(NS).list().getItems())
        .allSatisfy(
            d -> assertThat(d.getSpec().getReplicas()).as(d.getMetadata().getName()).isZero());
  }

  @Test
  void theFinalValuesRemoveTheLegacyDatabase() throws Exception {
    Path fin =
        Files.writeString(
            dir.resolve("values.final.yaml"), "db:\n  cnpg:\n    storage:\n      size: 10Gi\n");
    helm.upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false));

    helm.upgrade(request("2026-02-10", fin, Map.of(), "finalizeUpgrade", false));

    assertThat(box.client().apps().deployments().inNamespace(NS).withName("opschain-db").get())
        .isNull();
    assertThat(
            box.client()
                .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
                .inNamespace(NS)
                .withName("opschain-db")
                .get()
                .getAdditionalProperties()
                .get("spec")
                .toString())
        .doesNotContain("import");
  }

  @Test
  void aPendingUpgradeLeftByThisWorkflowIsRolledBackAndRetried() {
    helm.upgrade(
        request("2025-10-01", userValues, Map.of("stopped", "true"), "stopOpsChain", false));
    String ours =
        releases
            .history(NS, "opschain")
            .get(1)
            .description()
            .replace("/stopOpsChain", "/upgradeRelease");
    releases.leavePending(NS, "opschain", "2026-02-10", ours);

    HelmActivities.HelmResult r =
        helm.upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false));

    assertThat(r.changed()).isTrue();
    assertThat(releases.history(NS, "opschain"))
        .extracting(ChartReleases.Revision::status)
        .containsExactly("superseded", "superseded", "failed", "superseded", "deployed");
    assertThat(releases.history(NS, "opschain").get(3).description())
        .endsWith("/upgradeRelease-recovered");
  }

  @Test
  void anEarlierRunsMarkersAreNotThisRunsOwn() {
    helm.upgrade(
        request("2025-10-01", userValues, Map.of("stopped", "true"), "stopOpsChain", false));
    String earlier = releases.history(NS, "opschain").get(1).description();
    TestActivityEnvironment later =
        com.limepoint.opschain.dbupgrade.kube.SameRun.environment("a-later-run", 1);
    try {
      later.registerActivitiesImplementations(
          new HelmActivitiesImpl(new BoxHelmReleases(releases)));
      HelmActivities laterHelm = ActivityStubs.of(later, HelmActivities.class);

      // The same step of a later run deploys again: the revision is the earlier run's.
      assertThat(
              laterHelm
                  .upgrade(
                      request(
                          "2025-10-01",
                          userValues,
                          Map.of("stopped", "true"),
                          "stopOpsChain",
                          false))
                  .changed())
          .isTrue();
      assertThat(releases.history(NS, "opschain").get(2).description())
          .isNotEqualTo(earlier)
          .contains("a-later-run");

      // A release left pending by the earlier run is not the later run's to roll back.
      releases.leavePending(
          NS, "opschain", "2026-02-10", earlier.replace("/stopOpsChain", "/upgradeRelease"));
      assertThatThrownBy(() ->
              laterHelm.upgrade(
                  request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false)))
          .cause()
          .isInstanceOfSatisfying(
              ApplicationFailure.class,
              f -> assertThat(f.getType()).isEqualTo(FailureTypes.RELEASE_BUSY));
    } finally {
      later.close();
    }
  }

  @Test
  void aPendingUpgradeLeftBySomeoneElseIsReleaseBusy() {
    releases.leavePending(NS, "opschain", "2026-03-01", "Upgrade by ci-pipeline");

    assertThatThrownBy(() ->
            helm.upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.RELEASE_BUSY);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage()).contains("pending-upgrade", "ci-pipeline");
            });
    assertThat(releases.history(NS, "opschain")).hasSize(2);
  }

  @Test
  void dryRunRendersAndChangesNothing() {
    HelmActivities.HelmResult r =
        helm.upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", true));

    assertThat(r.changed()).isFalse();
    assertThat(r.summary()).contains("would run helm upgrade opschain", "objects rendered");
    assertThat(releases.history(NS, "opschain")).hasSize(1);
    assertThat(
            box.client()
                .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
                .inNamespace(NS)
                .withName("opschain-db")
                .get())
        .isNull();
  }
}
