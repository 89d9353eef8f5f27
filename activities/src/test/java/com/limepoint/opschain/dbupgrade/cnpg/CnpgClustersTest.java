package com.limepoint.opschain.dbupgrade.cnpg;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The health rule: CNPG's healthy phase and every instance ready; anything less is not. */
class CnpgClustersTest {

  @Test
  void healthyNeedsTheHealthyPhaseAndEveryInstanceReady() {
    assertThat(CnpgClusters.healthy(cluster(Map.of()))).isFalse();
    assertThat(CnpgClusters.phase(cluster(Map.of()))).isEqualTo("(no phase yet)");
    assertThat(
            CnpgClusters.healthy(
                cluster(Map.of("phase", "Cluster in healthy state", "instances", 3))))
        .isFalse();
    assertThat(
            CnpgClusters.healthy(
                cluster(
                    Map.of(
                        "phase", "Cluster in healthy state", "instances", 3, "readyInstances", 2))))
        .isFalse();
    assertThat(
            CnpgClusters.healthy(
                cluster(
                    Map.of("phase", "Setting up primary", "instances", 1, "readyInstances", 1))))
        .isFalse();
    GenericKubernetesResource ok =
        cluster(Map.of("phase", "Cluster in healthy state", "instances", 3, "readyInstances", 3));
    assertThat(CnpgClusters.healthy(ok)).isTrue();
    assertThat(CnpgClusters.phase(ok)).isEqualTo(CnpgClusters.HEALTHY);
  }

  private static GenericKubernetesResource cluster(Map<String, Object> status) {
    GenericKubernetesResource c = new GenericKubernetesResource();
    c.setApiVersion(CnpgClusters.API);
    c.setKind(CnpgClusters.KIND);
    if (!status.isEmpty()) {
      c.setAdditionalProperty("status", status);
    }
    return c;
  }
}
