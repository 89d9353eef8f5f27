package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import org.junit.jupiter.api.Test;

class ClusterIdentityIT {

  @Test
  void theClusterIsNamedByItsKubeSystemUidOrElseByItsApiServer() {
    try (ClusterInABox box = new ClusterInABox();
        ClusterInABox other = new ClusterInABox()) {
      ClusterIdentity byServer = ClusterIdentity.of(box.client());
      assertThat(byServer.source()).isEqualTo("sha-256 of the API server URL and CA");
      assertThat(byServer.id()).hasSize(64).isNotEqualTo(ClusterIdentity.of(other.client()).id());
      assertThat(ClusterIdentity.of(box.client())).isEqualTo(byServer);

      // The API server gives each object its uid at creation.
      String uid =
          box.client()
              .namespaces()
              .resource(
                  new NamespaceBuilder()
                      .withNewMetadata()
                      .withName("kube-system")
                      .endMetadata()
                      .build())
              .create()
              .getMetadata()
              .getUid();
      ClusterIdentity byUid = ClusterIdentity.of(box.client());

      assertThat(uid).isNotBlank();
      assertThat(byUid.id()).isEqualTo(uid);
      assertThat(byUid.source()).isEqualTo("kube-system namespace uid");
      assertThat(byUid.shortId()).hasSize(12).isEqualTo(uid.replace("-", "").substring(0, 12));
    }
  }
}
