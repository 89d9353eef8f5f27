package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.BuiltTools;
import com.limepoint.opschain.dbupgrade.testkit.ChartRepository;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Helm activities on the real helm binary (v3.21.4, {@link HelmCliReleases}) against the real
 * API server ({@link RealCluster}), as the worker's ServiceAccount bound to deploy/rbac.yaml and
 * deploy/rbac-helm.yaml, as the README applies them. The chart is {@code opschain/opschain}: the
 * test chart packaged at each version into a chart repository served over HTTP ({@link
 * ChartRepository}), which the worker's Helm knows from its repository file, with a Helm home of
 * its own that starts empty as a fresh worker's does. A pending revision is what a helm killed
 * during its {@code --wait} leaves ({@link #leavePending}).
 */
class HelmActivitiesIT {
  static final String NS = "opschain";
  static final String USER_VALUES = "db:\n  volume:\n    storageClass: null\n    size: 10Gi\n";
  static final String MIGRATION_VALUES =
      USER_VALUES
          + "  cnpg:\n    storage:\n      storageClass: null\n      size: 10Gi\n  recoveryMode: true\n";

  static final List<String> VERSIONS = List.of("2025-10-01", "2026-02-10", "2026-03-01");

  RealCluster box;
  ChartRepository repository;
  HelmHome home;
  HelmCliReleases releases;
  TestActivityEnvironment env;
  HelmActivities helm;
  Path dir;
  Path userValues;
  Path migrationValues;

  @BeforeEach
  void setUp() throws Exception {
    dir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("helm-");
    userValues = Files.writeString(dir.resolve("values.yaml"), USER_VALUES);
    migrationValues = Files.writeString(dir.resolve("values.migration.yaml"), MIGRATION_VALUES);
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    box = new RealCluster(NS);
    box.installCnpgOperator();
    RealCluster.applyRole(box.client(), NS, "deploy/rbac-helm.yaml", List.of());
    repository = new ChartRepository(dir, VERSIONS);
    home = new HelmHome(dir.resolve("worker-helm"), repository.repositoryConfig());
    releases =
        new HelmCliReleases(
            BuiltTools.helm().toString(), box.activityKubeconfig(), null, new HelmSlots(2), home);
    // helm install, as OpsChain was installed: revision 1, "Install complete". Helm's cache is
    // left as it was, as on a fresh worker: the activities refresh it.
    Path installHome = dir.resolve("installer-helm");
    helmAs(new HelmHome(installHome, repository.repositoryConfig()), "repo", "update", "opschain");
    helmAs(
        new HelmHome(installHome, repository.repositoryConfig()),
        "install",
        "opschain",
        CHART,
        "--version",
        "2025-10-01",
        "--namespace",
        NS,
        "-f",
        userValues.toString(),
        "--wait",
        "--timeout",
        "120s");
    env = com.limepoint.opschain.dbupgrade.kube.SameRun.environment("helm-run", 1);
    env.registerActivitiesImplementations(new HelmActivitiesImpl(releases));
    helm = ActivityStubs.of(env, HelmActivities.class);
  }

  @AfterEach
  void tearDown() {
    env.close();
    box.close();
    repository.close();
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(dir);
  }

  /** The chart as OpsChain's users name it: from the repository they added as "opschain". */
  static final String CHART = ChartRepository.NAME + "/opschain";

  /** The helm binary as the worker's ServiceAccount, with {@code helmHome}; fails on an error. */
  void helmAs(HelmHome helmHome, String... args) throws Exception {
    Path log = dir.resolve("helm-" + args[0] + ".log");
    ProcessBuilder pb =
        new ProcessBuilder(releases.argv(List.of(args)))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    helmHome.apply(pb.environment());
    assertThat(pb.start().waitFor()).as(Files.readString(log)).isZero();
  }

  /**
   * What a {@code helm upgrade} killed during its {@code --wait} leaves (SIGKILL, as a lost
   * worker's process): the release's newest revision {@code pending-upgrade}, with the labels the
   * command gave and the description "Preparing upgrade" (Helm writes {@code --description} only at
   * the end). Its pods wait for a node no one has, so Helm is still waiting when it is killed.
   */
  void leavePending(List<String> upgradeArgs) throws Exception {
    helmAs(home, "repo", "update", ChartRepository.NAME);
    List<String> args = new java.util.ArrayList<>(upgradeArgs);
    args.addAll(
        List.of("--set", "nodeSelector.opschain-test/node=none", "--wait", "--timeout", "300s"));
    ProcessBuilder pb =
        new ProcessBuilder(releases.argv(args))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("killed.log").toFile());
    home.apply(pb.environment());
    Process p = pb.start();
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (!"pending-upgrade".equals(newest().status())) {
      assertThat(System.nanoTime()).as("helm reaches pending-upgrade").isLessThan(deadline);
      Thread.sleep(100);
    }
    p.destroyForcibly().waitFor();
  }

  private HelmReleases.Revision newest() {
    List<HelmReleases.Revision> h = releases.history(NS, "opschain");
    return h.get(h.size() - 1);
  }

  HelmActivities.UpgradeRequest request(
      String version, Path values, Map<String, String> set, String step, boolean dryRun)
      throws java.io.IOException {
    return new HelmActivities.UpgradeRequest(
        NS, "opschain", CHART, version, List.of(values.toString()), set, step, 600, dryRun, false);
  }

  @Test
  void releaseStatusReadsTheDeployedRevision() throws Exception {
    HelmActivities.ReleaseInfo info =
        helm.releaseStatus(new HelmActivities.ReleaseRequest(NS, "opschain"));

    assertThat(info.exists()).isTrue();
    assertThat(info.chartVersion()).isEqualTo("2025-10-01");
    assertThat(info.revision()).isEqualTo(1);
    assertThat(helm.releaseStatus(new HelmActivities.ReleaseRequest(NS, "nope")).exists())
        .isFalse();
  }

  @Test
  void theUpgradeAppliesTheRenderedObjectsAndARetryIsANoOp() throws Exception {
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
  void aHelmCallRunsOnAThreadOfItsOwnNotOnTheCommonPool() throws Exception {
    var seen = new java.util.concurrent.atomic.AtomicReference<Thread>();
    var inPool = new java.util.concurrent.atomic.AtomicBoolean(true);
    HelmReleases inner = releases;
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

  /**
   * A fresh worker has no index of the repository in its Helm cache, and a worker's cached index
   * predates a chart version published since: each deploy refreshes it first, as a person runs
   * {@code helm repo update} before {@code helm upgrade}. Without the refresh the first upgrade
   * fails "no cached repo found" and the second "not found in opschain index".
   */
  @Test
  void eachDeployTakesTheChartFromTheRepositoryWithAFreshIndex() throws Exception {
    helm.upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false));
    repository.publish("2026-05-05");

    HelmActivities.HelmResult later =
        helm.upgrade(request("2026-05-05", migrationValues, Map.of(), "laterUpgrade", false));

    assertThat(later.changed()).isTrue();
    assertThat(newest().chartVersion()).isEqualTo("2026-05-05");
    assertThat(newest().status()).isEqualTo("deployed");
    assertThat(repository.served())
        .containsSubsequence(
            "index.yaml", "opschain-2026-02-10.tgz", "index.yaml", "opschain-2026-05-05.tgz");
  }

  /**
   * A worker whose repository file does not name the chart's repository: one error naming the
   * setting, not retried, and the release untouched.
   */
  @Test
  void aRepositoryTheWorkerDoesNotKnowIsOneClearErrorAndNothingChanges() throws Exception {
    HelmCliReleases unconfigured =
        new HelmCliReleases(
            BuiltTools.helm().toString(),
            box.activityKubeconfig(),
            null,
            new HelmSlots(2),
            new HelmHome(dir.resolve("other-helm"), dir.resolve("no-repositories.yaml")));
    TestActivityEnvironment other =
        com.limepoint.opschain.dbupgrade.kube.SameRun.environment("helm-run", 1);
    try {
      other.registerActivitiesImplementations(new HelmActivitiesImpl(unconfigured));
      HelmActivities otherHelm = ActivityStubs.of(other, HelmActivities.class);

      assertThatThrownBy(() ->
              otherHelm.upgrade(
                  request(
                      "2025-10-01", userValues, Map.of("stopped", "true"), "stopOpsChain", false)))
          .cause()
          .isInstanceOfSatisfying(
              ApplicationFailure.class,
              f -> {
                assertThat(f.getType()).isEqualTo(FailureTypes.HELM_FAILED);
                assertThat(f.isNonRetryable()).isTrue();
                assertThat(f.getOriginalMessage())
                    .contains(
                        "chart opschain/opschain",
                        "no repository 'opschain'",
                        "OPSCHAIN_HELM_REPOSITORY_CONFIG");
              });
    } finally {
      other.close();
    }
    assertThat(releases.history(NS, "opschain")).hasSize(1);
    assertThat(box.client().apps().deployments().inNamespace(NS).list().getItems())
        .allSatisfy(
            d -> assertThat(d.getSpec().getReplicas()).as(d.getMetadata().getName()).isNotZero());
  }

  @Test
  void stoppedScalesTheServicesToZero() throws Exception {
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
  void aPendingUpgradeLeftByThisWorkflowIsRolledBackAndRetried() throws Exception {
    helm.upgrade(
        request("2025-10-01", userValues, Map.of("stopped", "true"), "stopOpsChain", false));
    String run = runOf(newest().description());
    var upgrade = request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false);
    List<String> killed = HelmCall.of(upgrade, run).argv();
    leavePending(killed.subList(1, killed.size()));

    HelmActivities.HelmResult r = helm.upgrade(upgrade);

    assertThat(r.changed()).isTrue();
    // Real Helm leaves the killed revision as it was and adds the rollback as a revision.
    assertThat(releases.history(NS, "opschain"))
        .extracting(HelmReleases.Revision::status)
        .containsExactly("superseded", "superseded", "pending-upgrade", "superseded", "deployed");
    assertThat(releases.history(NS, "opschain").get(3).description()).isEqualTo("Rollback to 2");
    assertThat(newest().description()).isEqualTo(HelmCall.marker(run, "upgradeRelease"));
  }

  /** The run ({@code <workflowId>/<runId>}) of a marker description. */
  private static String runOf(String marker) {
    return marker.substring("opschain-db-upgrade ".length(), marker.lastIndexOf('/'));
  }

  @Test
  void anEarlierRunsMarkersAreNotThisRunsOwn() throws Exception {
    helm.upgrade(
        request("2025-10-01", userValues, Map.of("stopped", "true"), "stopOpsChain", false));
    String earlier = releases.history(NS, "opschain").get(1).description();
    String earlierRun = runOf(earlier);
    TestActivityEnvironment later =
        com.limepoint.opschain.dbupgrade.kube.SameRun.environment("a-later-run", 1);
    try {
      later.registerActivitiesImplementations(new HelmActivitiesImpl(releases));
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
      List<String> earlierUpgrade =
          HelmCall.of(
                  request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false),
                  earlierRun)
              .argv();
      leavePending(earlierUpgrade.subList(1, earlierUpgrade.size()));
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
  void aPendingUpgradeLeftBySomeoneElseIsReleaseBusy() throws Exception {
    // Someone's `helm upgrade` (a CI pipeline's), killed while it waited.
    leavePending(
        List.of(
            "upgrade",
            "opschain",
            CHART,
            "--version",
            "2026-03-01",
            "--namespace",
            NS,
            "--description",
            "Upgrade by ci-pipeline"));

    assertThatThrownBy(() ->
            helm.upgrade(request("2026-02-10", migrationValues, Map.of(), "upgradeRelease", false)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.RELEASE_BUSY);
              assertThat(f.isNonRetryable()).isTrue();
              // Helm writes a description only when it ends: this one says "Preparing upgrade".
              assertThat(f.getOriginalMessage()).contains("pending-upgrade");
            });
    assertThat(releases.history(NS, "opschain")).hasSize(2);
  }

  @Test
  void dryRunRendersAndChangesNothing() throws Exception {
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
