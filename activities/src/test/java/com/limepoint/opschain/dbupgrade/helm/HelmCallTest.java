package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HelmCallTest {

  @Test
  void theUpgradeCarriesChartVersionValuesSetMarkerWaitTimeoutAndRollback() {
    var req =
        new HelmActivities.UpgradeRequest(
            "opschain",
            "opschain",
            "opschain/opschain",
            "2026-02-10",
            List.of("/backup/values.migration.yaml"),
            Map.of("stopped", "true", "stopDatabase", "true"),
            "redeployStopped",
            2400,
            false,
            false);

    HelmCall call = HelmCall.of(req, "opschain-db-upgrade-opschain");

    assertThat(call.argv())
        .containsExactly(
            "helm",
            "upgrade",
            "opschain",
            "opschain/opschain",
            "--namespace",
            "opschain",
            "--version",
            "2026-02-10",
            "-f",
            "/backup/values.migration.yaml",
            "--set",
            "stopDatabase=true",
            "--set",
            "stopped=true",
            "--description",
            "opschain-db-upgrade opschain-db-upgrade-opschain/redeployStopped",
            "--labels",
            HelmCall.RUN_LABEL + "=" + HelmCall.runLabel("opschain-db-upgrade-opschain"),
            "--wait",
            "--timeout",
            "2400s",
            "--atomic");
  }

  @Test
  void aDeployPastThePointOfNoReturnNeitherWaitsNorRollsBack() {
    var req =
        new HelmActivities.UpgradeRequest(
            "opschain",
            "opschain",
            "opschain/opschain",
            "2026-02-10",
            List.of("/backup/values.migration.yaml"),
            Map.of(),
            "upgradeRelease",
            2400,
            false,
            true);

    HelmCall call = HelmCall.of(req, "run");

    assertThat(call.waitReady()).isFalse();
    assertThat(call.atomic()).isFalse();
    assertThat(call.argv()).doesNotContain("--wait", "--atomic").contains("--timeout", "2400s");
  }

  @Test
  void theChartColumnGivesTheVersion() {
    assertThat(HelmCliReleases.chartVersion("opschain-2025-10-01")).isEqualTo("2025-10-01");
    assertThat(HelmCliReleases.chartVersion("opschain-1.2.3")).isEqualTo("1.2.3");
  }

  @Test
  void theHelmProcessGetsNeitherTheWorkersSettingsNorItsJvmOptions() {
    Map<String, String> env =
        new java.util.HashMap<>(
            Map.of(
                "OPSCHAIN_API_KEY", "secret",
                "OPSCHAIN_TEMPORAL_TARGET", "temporal:7233",
                "TEMPORAL_TLS_KEY", "key",
                "JAVA_TOOL_OPTIONS", "-javaagent:x.jar",
                "JDK_JAVA_OPTIONS", "-Xmx1g",
                "HOME", "/home/worker",
                "KUBECONFIG", "/kube/config",
                "HELM_CACHE_HOME", "/tmp/helm"));

    HelmCliReleases.helmEnvironment(env);

    assertThat(env)
        .containsOnlyKeys("HOME", "KUBECONFIG", "HELM_CACHE_HOME")
        .doesNotContainValue("secret");
  }
}
