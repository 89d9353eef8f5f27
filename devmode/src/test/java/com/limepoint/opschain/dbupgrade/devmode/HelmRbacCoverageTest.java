package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * deploy/rbac-helm.yaml against what Helm really renders: the test chart in every phase the
 * workflow deploys (running, stopped, migration with recoveryMode, hibernated, final), each object
 * kind allowed every verb an upgrade and its prune need, Helm's release Secrets, and no rule for
 * anything the chart does not render.
 */
class HelmRbacCoverageTest {
  static final Set<String> OBJECT_VERBS =
      Set.of("get", "list", "watch", "create", "update", "patch", "delete");

  @SuppressWarnings("unchecked")
  @Test
  void theHelmRoleCoversEveryKindTheChartRendersInEveryPhaseAndNothingElse(@TempDir Path dir)
      throws Exception {
    ChartReleases chart = new ChartReleases(null, ChartReleases.testChart(dir));
    List<Map<String, String>> phases =
        List.of(
            Map.of("db.volume.size", "10Gi"),
            Map.of("db.volume.size", "10Gi", "stopped", "true"),
            Map.of(
                "db.volume.size",
                "10Gi",
                "db.cnpg.instances",
                "1",
                "db.cnpg.storage.size",
                "10Gi",
                "db.recoveryMode",
                "true"),
            Map.of(
                "db.cnpg.instances",
                "1",
                "db.cnpg.storage.size",
                "10Gi",
                "stopped",
                "true",
                "stopDatabase",
                "true"),
            Map.of("db.cnpg.instances", "1", "db.cnpg.storage.size", "10Gi"));
    Set<String> rendered = new HashSet<>();
    for (Map<String, String> set : phases) {
      String manifest =
          chart.render(
              new ChartReleases.Call("opschain", "opschain", "2026-02-10", List.of(), set, "test"));
      for (Object doc : new Yaml().loadAll(manifest)) {
        if (doc instanceof Map<?, ?> m && m.get("kind") != null) {
          String apiVersion = (String) m.get("apiVersion");
          String group =
              apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
          rendered.add(group + "/" + ((String) m.get("kind")).toLowerCase() + "s");
        }
      }
    }
    assertThat(rendered).contains("apps/deployments", "postgresql.cnpg.io/clusters");

    Map<String, Set<String>> granted = new java.util.HashMap<>();
    for (Object doc :
        new Yaml().loadAll(Files.readString(Path.of("..", "deploy", "rbac-helm.yaml")))) {
      Map<String, Object> m = (Map<String, Object>) doc;
      if (!"Role".equals(m.get("kind"))) {
        continue;
      }
      for (Map<String, Object> rule : (List<Map<String, Object>>) m.get("rules")) {
        for (String g : (List<String>) rule.get("apiGroups")) {
          for (String r : (List<String>) rule.get("resources")) {
            assertThat(r).isNotEqualTo("*");
            granted
                .computeIfAbsent(g + "/" + r, k -> new HashSet<>())
                .addAll((List<String>) rule.get("verbs"));
          }
        }
      }
    }
    for (String kind : rendered) {
      assertThat(granted.get(kind)).as(kind).containsExactlyInAnyOrderElementsOf(OBJECT_VERBS);
    }
    // Helm's storage: one Secret per revision, found by label, superseded ones pruned.
    assertThat(granted.get("/secrets"))
        .contains("get", "list", "create", "update", "delete")
        .doesNotContain("watch");
    // --wait reads pods, and lists a Deployment's ReplicaSets to find its new one (helm v3.21.4
    // pkg/kube/ready.go:118); nothing else is granted.
    assertThat(granted.get("/pods")).containsExactlyInAnyOrder("get", "list", "watch");
    assertThat(granted.get("apps/replicasets")).containsExactly("list");
    Set<String> expected = new HashSet<>(rendered);
    expected.addAll(List.of("/secrets", "/pods", "apps/replicasets"));
    assertThat(granted.keySet()).containsExactlyInAnyOrderElementsOf(new ArrayList<>(expected));
  }
}
