package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

class KubeContextTest {

  static final String KUBECONFIG =
      """
      apiVersion: v1
      kind: Config
      current-context: staging
      clusters:
        - name: staging
          cluster: {server: "https://staging.example:6443"}
        - name: prod
          cluster: {server: "https://prod.example:6443"}
      contexts:
        - name: staging
          context: {cluster: staging, user: u}
        - name: prod
          context: {cluster: prod, user: u}
      users:
        - name: u
          user: {token: t}
      """;

  @Test
  void helmGetsTheKubeconfigWithTheWorkersContextAsItsCurrentOne(@TempDir Path dir)
      throws Exception {
    Path file = Files.writeString(dir.resolve("config"), KUBECONFIG);

    String contents = KubeContext.contents(file, "prod", Map.of());

    Map<String, Object> config = new Yaml().load(contents);
    assertThat(config).containsEntry("current-context", "prod");
    assertThat(config.get("clusters"))
        .isEqualTo(((Map<?, ?>) new Yaml().load(KUBECONFIG)).get("clusters"));
    assertThat(Files.readString(file)).isEqualTo(KUBECONFIG);
  }

  @Test
  void theDefaultFileIsKubeconfigFromTheEnvironment(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("config"), KUBECONFIG);

    String contents = KubeContext.contents(null, "prod", Map.of("KUBECONFIG", file.toString()));

    Map<String, Object> config = new Yaml().load(contents);
    assertThat(config).containsEntry("current-context", "prod");
  }

  @Test
  void anUnknownContextIsRefusedNamingTheOnesThereAre(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("config"), KUBECONFIG);

    assertThatThrownBy(() -> KubeContext.contents(file, "production", Map.of()))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            e -> {
              assertThat(e.isNonRetryable()).isTrue();
              assertThat(e.getOriginalMessage()).contains("'production'", "[staging, prod]");
            });
  }

  @Test
  void severalKubeconfigFilesWithAContextAskForOne(@TempDir Path dir) {
    assertThatThrownBy(() ->
            KubeContext.contents(
                null, "prod", Map.of("KUBECONFIG", dir.resolve("a") + ":" + dir.resolve("b"))))
        .hasMessageContaining("OPSCHAIN_KUBECONFIG");
  }
}
