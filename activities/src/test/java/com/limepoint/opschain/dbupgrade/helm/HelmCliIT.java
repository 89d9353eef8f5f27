package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.testkit.BuiltTools;
import com.limepoint.opschain.dbupgrade.testkit.KubeControlPlane;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.fabric8.kubernetes.api.model.Secret;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Helm activities on the real {@code helm} binary (v3.21, built by bin/ensure-helm) against a
 * real API server ({@link KubeControlPlane}): Helm's own storage (its release Secrets), its
 * ordering, and what a killed Helm leaves, none of which the simulated releases can show.
 */
class HelmCliIT {
  static KubeControlPlane cp;
  static String helm;

  /** Outside an activity the run's marker is this (Heartbeats.workflowId()/runId()). */
  static final String RUN = "no-workflow/no-run";

  @BeforeAll
  static void start() throws Exception {
    cp = KubeControlPlane.shared();
    Required.tool(cp != null, "the Kubernetes control plane is not built (bin/ensure-kube)");
    try {
      helm = BuiltTools.helm().toString();
    } catch (IllegalStateException e) {
      Required.tool(false, e.getMessage());
    }
  }

  /** A chart of one Deployment whose replicas and node selector the values set. */
  static Path chart(Path dir) throws IOException {
    Path c = dir.resolve("web");
    Files.createDirectories(c.resolve("templates"));
    Files.writeString(c.resolve("Chart.yaml"), "apiVersion: v2\nname: web\nversion: 2025.10.1\n");
    Files.writeString(c.resolve("values.yaml"), "replicas: 1\nnode: kwok-node-0\nrevision: 0\n");
    Files.writeString(
        c.resolve("templates/deployment.yaml"),
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: {{ .Values.replicas }}
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
              annotations: {revision: "{{ .Values.revision }}"}
            spec:
              nodeSelector: {kubernetes.io/hostname: "{{ .Values.node }}"}
              containers:
              - name: web
                image: registry.invalid/web:1
        """);
    return c;
  }

  HelmCliReleases releases() {
    return new HelmCliReleases(helm, cp.adminKubeconfig(), null, new HelmSlots(2));
  }

  static HelmActivities.UpgradeRequest request(
      String ns, Path chart, String step, Map<String, String> set, boolean noWait) {
    return new HelmActivities.UpgradeRequest(
        ns, "web", chart.toString(), "2025.10.1", List.of(), set, step, 120, false, noWait);
  }

  void install(String ns, Path chart) throws Exception {
    Process p =
        new ProcessBuilder(
                helm,
                "install",
                "web",
                chart.toString(),
                "--namespace",
                ns,
                "--kubeconfig",
                cp.adminKubeconfig().toString(),
                "--wait",
                "--timeout",
                "60s")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(out).isZero();
  }

  @Test
  void pastRevisionTenTheNewestRevisionIsReadByItsNumberAndAStepIsNotMadeTwice(@TempDir Path dir)
      throws Exception {
    String ns = cp.namespace("helm-order");
    Path chart = chart(dir);
    install(ns, chart);
    HelmActivitiesImpl activities = new HelmActivitiesImpl(releases());
    for (int i = 2; i <= 11; i++) {
      activities.upgrade(
          request(ns, chart, "step" + i, Map.of("revision", Integer.toString(i)), true));
    }
    // Helm's storage as the API server lists it: by name, so v10 and v11 before v2.
    List<String> secrets =
        cp.admin().secrets().inNamespace(ns).withLabel("owner", "helm").list().getItems().stream()
            .map(Secret::getMetadata)
            .map(m -> m.getName())
            .toList();
    assertThat(secrets.indexOf("sh.helm.release.v1.web.v10"))
        .isLessThan(secrets.indexOf("sh.helm.release.v1.web.v9"));
    HelmActivities.ReleaseInfo info =
        activities.releaseStatus(new HelmActivities.ReleaseRequest(ns, "web"));
    assertThat(info.revision()).isEqualTo(11);
    assertThat(info.status()).isEqualTo("deployed");
    assertThat(info.chartVersion()).isEqualTo("2025.10.1");
    assertThat(info.description()).isEqualTo(HelmCall.marker(RUN, "step11"));
    // The retry of step 11 finds its own marker on the newest revision and changes nothing.
    HelmActivities.HelmResult again =
        activities.upgrade(request(ns, chart, "step11", Map.of("revision", "11"), true));
    assertThat(again.changed()).isFalse();
    assertThat(again.revision()).isEqualTo(11);
    // Helm keeps ten revisions (--history-max's default): 2 to 11.
    assertThat(releases().history(ns, "web"))
        .extracting(HelmReleases.Revision::revision)
        .containsExactly(2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
  }

  @Test
  void aHelmKilledDuringItsUpgradeLeavesPendingUpgradeAndTheRetryRollsBackAndUpgradesOnce(
      @TempDir Path dir) throws Exception {
    String ns = cp.namespace("helm-killed");
    Path chart = chart(dir);
    install(ns, chart);
    // The killed attempt: --wait on a pod no node can take, killed (SIGKILL, as a lost worker's
    // process is) while Helm waits.
    HelmCall stuck =
        HelmCall.of(
            request(
                ns,
                chart,
                "upgradeRelease",
                Map.of("node", "no-such-node", "revision", "2"),
                false),
            RUN);
    HelmCliReleases releases = releases();
    Process killed =
        new ProcessBuilder(releases.argv(stuck.argv().subList(1, stuck.argv().size())))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("killed.log").toFile())
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (releases.history(ns, "web").stream()
        .noneMatch(r -> "pending-upgrade".equals(r.status()))) {
      assertThat(System.nanoTime()).as("helm upgrade reaches pending-upgrade").isLessThan(deadline);
      Thread.sleep(100);
    }
    killed.destroyForcibly().waitFor();
    List<HelmReleases.Revision> left = releases.history(ns, "web");
    assertThat(left)
        .extracting(HelmReleases.Revision::status)
        .containsExactly("deployed", "pending-upgrade");

    // The retry of the same run and step: rolls back its own pending revision, then upgrades.
    HelmActivities.HelmResult r =
        new HelmActivitiesImpl(releases)
            .upgrade(request(ns, chart, "upgradeRelease", Map.of("revision", "2"), false));
    assertThat(r.changed()).isTrue();
    assertThat(r.status()).isEqualTo("deployed");
    List<HelmReleases.Revision> after = releases.history(ns, "web");
    assertThat(after).extracting(HelmReleases.Revision::revision).containsExactly(1, 2, 3, 4);
    // Real Helm leaves the killed revision as it was and adds the rollback as a revision.
    assertThat(after.get(1).status()).isEqualTo("pending-upgrade");
    assertThat(after.get(2).description()).isEqualTo("Rollback to 1");
    assertThat(after.get(3).status()).isEqualTo("deployed");
    assertThat(after.get(3).description()).isEqualTo(HelmCall.marker(RUN, "upgradeRelease"));
    assertThat(after.stream().filter(v -> "deployed".equals(v.status()))).hasSize(1);
  }
}
