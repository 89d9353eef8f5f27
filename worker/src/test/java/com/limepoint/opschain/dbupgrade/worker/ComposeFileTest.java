package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflowImpl;
import io.micronaut.context.annotation.ConfigurationProperties;
import io.temporal.common.SearchAttributeKey;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * docker-compose.yml cannot run here (no Docker engine); this checks what it promises: Temporal as
 * the official compose for PostgreSQL sets it up (temporalio/samples-server
 * compose/docker-compose-postgres.yml), the search attributes registered and turned on, and a
 * worker that starts only after all of that.
 */
class ComposeFileTest {
  static final Path ROOT = Path.of("..");

  @Test
  void composeRunsTemporalOnPostgresTheUiOn8080AndTheWorkerWithKubeconfigAndBackups()
      throws Exception {
    Map<String, Object> compose = load("docker-compose.yml");
    Map<String, Map<String, Object>> services = services(compose);

    assertThat(services)
        .containsOnlyKeys(
            "postgresql",
            "temporal-admin-tools",
            "temporal",
            "temporal-create-namespace",
            "temporal-ui",
            "worker");
    assertThat(image(services, "temporal-ui")).startsWith("temporalio/ui:");
    assertThat(list(services.get("temporal-ui"), "ports")).contains("8080:8080");
    Map<String, Object> worker = services.get("worker");
    assertThat(map(worker, "environment"))
        .containsEntry("OPSCHAIN_TEMPORAL_TARGET", "temporal:7233");
    assertThat(list(worker, "volumes"))
        .anyMatch(v -> v.endsWith(":/config/kubeconfig:ro"))
        .anyMatch(v -> v.startsWith("opschain-backups:/limepoint/backup"));
    assertThat(map(compose, "volumes")).containsKeys("temporal-db", "opschain-backups");
  }

  @Test
  void everyImageIsPinnedToAVersionAndNoneIsTheDeprecatedAutoSetup() throws Exception {
    Map<String, Map<String, Object>> services = services(load("docker-compose.yml"));

    for (var s : services.entrySet()) {
      String image = (String) s.getValue().get("image");
      assertThat(image)
          .as("%s's image is pinned to a version", s.getKey())
          .matches("[a-z0-9./-]+:[0-9][0-9A-Za-z.-]*")
          .doesNotContain("auto-setup")
          .doesNotEndWith(":latest");
    }
    assertThat(image(services, "temporal")).startsWith("temporalio/server:");
    // The schema the admin-tools set up is the one the server expects.
    String version = image(services, "temporal").substring("temporalio/server:".length());
    assertThat(image(services, "temporal-admin-tools"))
        .isEqualTo("temporalio/admin-tools:" + version);
    assertThat(image(services, "temporal-create-namespace"))
        .isEqualTo("temporalio/admin-tools:" + version);
  }

  @Test
  void adminToolsSetUpTheSchemaBeforeTheServerAndTheNamespaceAfterIt() throws Exception {
    Map<String, Map<String, Object>> services = services(load("docker-compose.yml"));

    Map<String, Object> setup = services.get("temporal-admin-tools");
    assertThat(dependsOn(setup)).containsEntry("postgresql", "service_healthy");
    String schema = script(setup);
    for (String db : List.of("temporal", "temporal_visibility")) {
      assertThat(schema).contains(db);
    }
    assertThat(schema)
        .contains("temporal-sql-tool --plugin postgres12", "create", "setup-schema -v 0.0")
        .contains("update-schema -d \"$SCHEMA/${pair#*:}/versioned\"")
        .contains("/etc/temporal/schema/postgresql/v12");

    Map<String, Object> server = services.get("temporal");
    assertThat(dependsOn(server))
        .containsEntry("temporal-admin-tools", "service_completed_successfully");
    assertThat(map(server, "environment"))
        .containsEntry("DB", "postgres12")
        .containsEntry("POSTGRES_SEEDS", "postgresql");
    assertThat(map(server, "healthcheck")).containsKey("test");
    // The server image has no dynamic config file of its own: the mounted one must be there.
    String dynamicConfig = (String) map(server, "environment").get("DYNAMIC_CONFIG_FILE_PATH");
    assertThat(list(server, "volumes"))
        .contains("./compose/dynamicconfig:/etc/temporal/config/dynamicconfig:ro");
    assertThat(ROOT.resolve("compose/dynamicconfig").resolve(Path.of(dynamicConfig).getFileName()))
        .isRegularFile();

    Map<String, Object> namespace = services.get("temporal-create-namespace");
    assertThat(dependsOn(namespace)).containsEntry("temporal", "service_healthy");
    assertThat(map(namespace, "environment"))
        .containsEntry("TEMPORAL_ADDRESS", "temporal:7233")
        .containsEntry("DEFAULT_NAMESPACE", "default");
    assertThat(script(namespace))
        .contains("temporal operator cluster health")
        .contains("temporal operator namespace create --namespace \"$NAMESPACE\"");
  }

  @Test
  void theSearchAttributesTheWorkflowSetsAreRegisteredAsKeyword() throws Exception {
    String namespace =
        script(services(load("docker-compose.yml")).get("temporal-create-namespace"));

    assertThat(namespace)
        .contains(
            "temporal operator search-attribute create --namespace \"$NAMESPACE\" --name \"$1\""
                + " --type Keyword");
    for (SearchAttributeKey<String> key :
        List.of(DbUpgradeWorkflowImpl.OPSCHAIN_NAMESPACE, DbUpgradeWorkflowImpl.UPGRADE_PHASE)) {
      assertThat(key.getValueType().name()).isEqualTo("INDEXED_VALUE_TYPE_KEYWORD");
      assertThat(namespace).contains("retry search_attribute " + key.getName() + "\n");
    }
  }

  @Test
  void theWorkerStartsWhenTheServerIsHealthyAndSetupFinishedWithSearchAttributesOn()
      throws Exception {
    Map<String, Object> worker = services(load("docker-compose.yml")).get("worker");

    assertThat(dependsOn(worker))
        .containsEntry("temporal", "service_healthy")
        .containsEntry("temporal-create-namespace", "service_completed_successfully");
    // The variable binds WorkerConfig.searchAttributes (Micronaut: prefix and name, upper snake).
    String prefix = WorkerConfig.class.getAnnotation(ConfigurationProperties.class).value();
    assertThat(
            Arrays.stream(WorkerConfig.class.getRecordComponents()).map(RecordComponent::getName))
        .contains("searchAttributes");
    assertThat(map(worker, "environment"))
        .containsEntry(prefix.toUpperCase() + "_SEARCH_ATTRIBUTES", "true")
        .containsEntry("OPSCHAIN_TEMPORAL_NAMESPACE", "default");
  }

  @Test
  void aLoopbackKubeconfigHasAWayToTheClusterAndTheReadmeSaysIt() throws Exception {
    Map<String, Object> local = load("docker-compose.local-cluster.yml");
    Map<String, Object> worker = services(local).get("worker");

    assertThat(list(worker, "networks")).containsExactly("default", "cluster");
    assertThat(map(map(local, "networks"), "cluster"))
        .containsEntry("external", true)
        .containsEntry("name", "${CLUSTER_NETWORK:-kind}");
    // The README points to it; operations says how.
    assertThat(Files.readString(ROOT.resolve("README.md")))
        .contains("kind", "docs/operations.md#docker-compose");
    assertThat(Files.readString(ROOT.resolve("docs/operations.md")))
        .contains(
            "127.0.0.1", "kind get kubeconfig --internal", "minikube ip", "network_mode: host");
  }

  /** The script a one-shot admin-tools service runs, read from the mounted directory. */
  private static String script(Map<String, Object> service) throws IOException {
    assertThat(list(service, "volumes")).contains("./compose/scripts:/scripts:ro");
    assertThat(list(service, "entrypoint")).containsExactly("/bin/sh");
    String command = list(service, "command").get(0);
    assertThat(command).startsWith("/scripts/");
    Path file = ROOT.resolve("compose/scripts").resolve(command.substring("/scripts/".length()));
    String text = Files.readString(file);
    assertThat(text).startsWith("#!/bin/sh\n").contains("set -eu\n");
    return text;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, String> dependsOn(Map<String, Object> service) {
    Map<String, String> out = new java.util.TreeMap<>();
    map(service, "depends_on")
        .forEach((k, v) -> out.put(k, (String) ((Map<String, Object>) v).get("condition")));
    return out;
  }

  private static Map<String, Object> load(String file) throws IOException {
    return new Yaml().load(Files.readString(ROOT.resolve(file)));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, Object>> services(Map<String, Object> compose) {
    return (Map<String, Map<String, Object>>) compose.get("services");
  }

  private static String image(Map<String, Map<String, Object>> services, String name) {
    return (String) services.get(name).get("image");
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Map<String, Object> m, String key) {
    return (Map<String, Object>) m.get(key);
  }

  @SuppressWarnings("unchecked")
  private static List<String> list(Map<String, Object> m, String key) {
    return (List<String>) m.get(key);
  }
}
