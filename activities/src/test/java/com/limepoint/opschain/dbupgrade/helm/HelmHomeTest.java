package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HelmHomeTest {

  @Test
  void onlyAChartTakenFromARepositoryNamesOne(@TempDir Path dir) throws Exception {
    assertThat(HelmHome.repositoryOf("opschain/opschain")).isEqualTo("opschain");
    assertThat(HelmHome.repositoryOf("limepoint-charts/opschain")).isEqualTo("limepoint-charts");
    assertThat(HelmHome.repositoryOf("oci://registry.example.com/charts/opschain")).isNull();
    assertThat(HelmHome.repositoryOf("https://charts.example.com/opschain-1.0.0.tgz")).isNull();
    assertThat(HelmHome.repositoryOf("/srv/charts/opschain")).isNull();
    assertThat(HelmHome.repositoryOf("opschain")).isNull();
    // Helm takes a local path first: a directory shaped like a reference is a local chart.
    Path local = Files.createDirectories(dir.resolve("charts/opschain"));
    assertThat(HelmHome.repositoryOf(local.toString())).isNull();
  }

  @Test
  void theHomeAndRepositoryFileBecomeHelmsVariables(@TempDir Path dir) {
    Map<String, String> env = new HashMap<>();
    new HelmHome(dir.resolve("helm"), dir.resolve("repos.yaml")).apply(env);
    assertThat(env)
        .containsEntry("HELM_CACHE_HOME", dir.resolve("helm/cache").toString())
        .containsEntry("HELM_CONFIG_HOME", dir.resolve("helm/config").toString())
        .containsEntry("HELM_DATA_HOME", dir.resolve("helm/data").toString())
        .containsEntry("HELM_REPOSITORY_CONFIG", dir.resolve("repos.yaml").toString());

    Map<String, String> untouched = new HashMap<>(Map.of("HELM_CACHE_HOME", "/x"));
    HelmHome.DEFAULT.apply(untouched);
    assertThat(untouched).containsExactly(Map.entry("HELM_CACHE_HOME", "/x"));
  }
}
