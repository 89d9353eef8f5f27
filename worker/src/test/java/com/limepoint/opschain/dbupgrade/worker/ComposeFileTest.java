package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/** docker-compose.yml cannot run here (no Docker engine); this checks what it promises. */
class ComposeFileTest {

  @SuppressWarnings("unchecked")
  @Test
  void composeRunsTemporalOnPostgresTheUiOn8080AndTheWorkerWithKubeconfigAndBackups()
      throws Exception {
    Map<String, Object> compose =
        new Yaml().load(Files.readString(Path.of("..", "docker-compose.yml")));
    Map<String, Map<String, Object>> services =
        (Map<String, Map<String, Object>>) compose.get("services");

    assertThat(services).containsOnlyKeys("postgresql", "temporal", "temporal-ui", "worker");
    for (Map<String, Object> s : services.values()) {
      assertThat((String) s.get("image"))
          .as("pinned image")
          .matches("[a-z0-9./-]+:[0-9][0-9A-Za-z.-]*");
    }
    assertThat((String) services.get("temporal").get("image")).startsWith("temporalio/auto-setup:");
    assertThat((Map<String, Object>) services.get("temporal").get("environment"))
        .containsEntry("DB", "postgres12")
        .containsEntry("POSTGRES_SEEDS", "postgresql");
    assertThat((String) services.get("temporal-ui").get("image")).startsWith("temporalio/ui:");
    assertThat((List<String>) services.get("temporal-ui").get("ports")).contains("8080:8080");
    Map<String, Object> worker = services.get("worker");
    assertThat((Map<String, Object>) worker.get("environment"))
        .containsEntry("OPSCHAIN_TEMPORAL_TARGET", "temporal:7233");
    assertThat((List<String>) worker.get("volumes"))
        .anyMatch(v -> v.endsWith(":/config/kubeconfig:ro"))
        .anyMatch(v -> v.startsWith("opschain-backups:/limepoint/backup"));
    assertThat((Map<String, Object>) compose.get("volumes"))
        .containsKeys("temporal-db", "opschain-backups");
  }
}
