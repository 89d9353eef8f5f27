package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgActivitiesImpl;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes activities on the real control plane ({@link RealCluster}), run as the worker's
 * ServiceAccount bound to deploy/rbac.yaml: preflight, the workload waits, scale and restart, and
 * finding the CNPG operator. What they changed is read from the API server's audit log. The import
 * and hibernation are in {@link CnpgImportIT} until the CNPG controller runs here.
 */
class KubernetesActivitiesIT {
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
    for (String ns : granted) {
      if (ns.isEmpty()) {
        box.client().rbac().clusterRoleBindings().withName("opschain-db-upgrade-operator").delete();
        box.client().rbac().clusterRoles().withName("opschain-db-upgrade-operator").delete();
      } else {
        box.client()
            .rbac()
            .roleBindings()
            .inNamespace(ns)
            .withName("opschain-db-upgrade-operator")
            .delete();
        box.client()
            .rbac()
            .roles()
            .inNamespace(ns)
            .withName("opschain-db-upgrade-operator")
            .delete();
      }
    }
    env.close();
    client.close();
    box.close();
    if (db != null) {
      db.close();
    }
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(sandbox);
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
    // As docs/operations.md suggests, so that preflight can see the operator.
    allowListingDeployments("cnpg-system");
    box.awaitDeploymentReady("cnpg-system", "cnpg-controller-manager");
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
          box.client()
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
        box.client()
            .apps()
            .statefulSets()
            .inNamespace(NS)
            .withName("opschain-build-cache")
            .edit(x -> {
              x.getMetadata().setAnnotations(owned);
              return x;
            }));
    // deploy/worker.yaml: the worker's Deployment in the same namespace, not part of the release.
    OpsChainFixture.deployment(box.client(), NS, "opschain-db-upgrade-worker", 1);
    box.awaitRunning(NS, "app", "opschain-db-upgrade-worker");
    // Scaled-down pods stay Terminating for 3 s (the fixture's terminationGracePeriodSeconds).
    for (String d : release) {
      cluster.scaleDeployment(new ClusterActivities.ScaleRequest(NS, d, 0, false));
    }
    box.client().apps().statefulSets().inNamespace(NS).withName("opschain-build-cache").scale(0);
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
    box.client().apps().statefulSets().inNamespace(NS).withName("opschain-build-cache").scale(0);
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
    box.client().apps().deployments().inNamespace(NS).withName("opschain-db").delete();
    assertThat(
            cluster.awaitDeploymentGone(new WaitRequest(NS, List.of("opschain-db"), 120)).summary())
        .contains("gone");
  }

  @Test
  void theOperatorInstalledByItsHelmChartInAnotherNamespaceIsFoundByItsLabels() {
    // helm upgrade --install cnpg -n cnpg-operator cnpg/cloudnative-pg instead of the manifest
    removeManifestOperator();
    box.installCnpgOperatorChart("cnpg", "cnpg-operator");
    box.awaitDeploymentReady("cnpg-operator", "cnpg-cloudnative-pg");
    // A platform that lets the worker see Deployments in every namespace.
    allowListingDeployments(null);
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
    box.awaitDeploymentReady("cnpg-system", "cnpg-cloudnative-pg");
    // docs/operations.md: the Role in cnpg-system that lets the worker list its Deployments; the
    // shipped Role cannot list them in all namespaces.
    allowListingDeployments("cnpg-system");

    assertThat(cnpg.checkOperator(OPERATOR_REF).summary())
        .isEqualTo("CNPG operator running: cnpg-system/cnpg-cloudnative-pg (1 ready)");
  }

  @Test
  void anOperatorTheRoleCannotSeeIsSaidInTheEvidenceNotFailed() {
    // deploy/rbac.yaml's Role, as shipped: Deployments in the OpsChain namespace only.
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
    // A worker that may list Deployments everywhere can tell the operator is nowhere.
    allowListingDeployments(null);
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
        .withGracePeriod(0)
        .delete();
    box.client()
        .apps()
        .deployments()
        .inNamespace("cnpg-system")
        .withName("cnpg-controller-manager")
        .waitUntilCondition(java.util.Objects::isNull, 30, java.util.concurrent.TimeUnit.SECONDS);
  }

  /**
   * Lets the worker's ServiceAccount list Deployments in {@code ns} (null: in every namespace), as
   * docs/operations.md shows for cnpg-system; removed when the test ends.
   */
  private void allowListingDeployments(String ns) {
    String name = "opschain-db-upgrade-operator";
    var rule =
        new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder()
            .withApiGroups("apps")
            .withResources("deployments")
            .withVerbs("list")
            .build();
    var subject =
        new io.fabric8.kubernetes.api.model.rbac.SubjectBuilder()
            .withKind("ServiceAccount")
            .withName("opschain-db-upgrade")
            .withNamespace(NS)
            .build();
    var admin = box.client();
    if (ns == null) {
      admin
          .rbac()
          .clusterRoles()
          .resource(
              new io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .withRules(rule)
                  .build())
          .createOr(x -> x.update());
      admin
          .rbac()
          .clusterRoleBindings()
          .resource(
              new io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .withSubjects(subject)
                  .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", name)
                  .build())
          .createOr(x -> x.update());
    } else {
      admin
          .rbac()
          .roles()
          .inNamespace(ns)
          .resource(
              new io.fabric8.kubernetes.api.model.rbac.RoleBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .withRules(rule)
                  .build())
          .createOr(x -> x.update());
      admin
          .rbac()
          .roleBindings()
          .inNamespace(ns)
          .resource(
              new io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .withSubjects(subject)
                  .withNewRoleRef("rbac.authorization.k8s.io", "Role", name)
                  .build())
          .createOr(x -> x.update());
    }
    granted.add(ns == null ? "" : ns);
  }

  private final List<String> granted = new java.util.ArrayList<>();

  private void awaitRestarted(List<String> deployments) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (deployments.stream().anyMatch(d -> box.restarts(NS, d) < 1)
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
  }
}
