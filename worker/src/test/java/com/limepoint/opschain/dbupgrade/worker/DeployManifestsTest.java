package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/** deploy/worker.yaml agrees with deploy/rbac.yaml and with what the worker reads and serves. */
class DeployManifestsTest {

  @SuppressWarnings("unchecked")
  @Test
  void theDeploymentUsesTheRoleServesItsProbesAndSetsOnlyKnownSettings() throws Exception {
    List<Map<String, Object>> worker = load("worker.yaml");
    List<Map<String, Object>> rbac = load("rbac.yaml");
    Map<String, Object> app =
        new Yaml().load(Files.readString(Path.of("src/main/resources/application.yml")));

    Map<String, Object> deployment = kind(worker, "Deployment");
    Map<String, Object> pod =
        (Map<String, Object>)
            ((Map<String, Object>) ((Map<String, Object>) deployment.get("spec")).get("template"))
                .get("spec");
    String serviceAccount =
        (String) ((Map<String, Object>) kind(rbac, "ServiceAccount").get("metadata")).get("name");
    assertThat(pod.get("serviceAccountName")).isEqualTo(serviceAccount);

    Map<String, Object> container = ((List<Map<String, Object>>) pod.get("containers")).get(0);
    int serverPort =
        (Integer)
            ((Map<String, Object>) ((Map<String, Object>) app.get("micronaut")).get("server"))
                .get("port");
    assertThat(((List<Map<String, Object>>) container.get("ports")).get(0).get("containerPort"))
        .isEqualTo(serverPort);
    assertThat(
            ((Map<String, Object>)
                    ((Map<String, Object>) container.get("readinessProbe")).get("httpGet"))
                .get("path"))
        .isEqualTo("/health/readiness");

    // Every OPSCHAIN_* variable binds to a WorkerConfig component (a typo would be ignored
    // silently).
    Set<String> components =
        Arrays.stream(WorkerConfig.class.getRecordComponents())
            .map(c -> "OPSCHAIN_" + c.getName().replaceAll("([A-Z])", "_$1").toUpperCase())
            .collect(Collectors.toSet());
    List<String> env = new ArrayList<>();
    ((List<Map<String, Object>>) container.get("env"))
        .forEach(e -> env.add((String) e.get("name")));
    assertThat(env.stream().filter(n -> n.startsWith("OPSCHAIN_")))
        .isNotEmpty()
        .allMatch(components::contains);
    assertThat(env).contains("OPSCHAIN_HOST", "OPSCHAIN_HOST_BACKUP_DIR");

    // The backups live on the claim, and a Recreate rollout never mounts it twice.
    assertThat(
            ((Map<String, Object>) ((Map<String, Object>) deployment.get("spec")).get("strategy"))
                .get("type"))
        .isEqualTo("Recreate");
    assertThat(kind(worker, "PersistentVolumeClaim")).isNotNull();
    // The grace period outlasts the worker's own shutdown grace.
    assertThat((Integer) pod.get("terminationGracePeriodSeconds")).isGreaterThan(45);
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> load(String file) throws Exception {
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object d : new Yaml().loadAll(Files.readString(Path.of("..", "deploy", file)))) {
      docs.add((Map<String, Object>) d);
    }
    return docs;
  }

  private static Map<String, Object> kind(List<Map<String, Object>> docs, String kind) {
    return docs.stream()
        .filter(d -> kind.equals(d.get("kind")))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind));
  }
}
