package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterIdentityTest {

  static final String CA_A =
      "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2x1c3RlckE=\n-----END CERTIFICATE-----\n";
  static final String CA_B =
      "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2x1c3RlckI=\n-----END CERTIFICATE-----\n";

  private static Config config(String url, String caData) {
    return new ConfigBuilder(Config.empty()).withMasterUrl(url).withCaCertData(caData).build();
  }

  @Test
  void oneClusterIsOneIdentityWhateverAddressItsClientsUseAndNeedsNoCall(@TempDir Path dir)
      throws Exception {
    String data = Base64.getEncoder().encodeToString(CA_A.getBytes(StandardCharsets.UTF_8));
    Path file = Files.writeString(dir.resolve("ca.crt"), CA_A.replace("\n", "\r\n"));

    // Nothing listens on these addresses: the identity needs no call to the API server.
    ClusterIdentity inCluster = ClusterIdentity.of(config("https://127.0.0.1:1", data));
    ClusterIdentity outside =
        ClusterIdentity.of(
            new ConfigBuilder(Config.empty())
                .withMasterUrl("https://127.0.0.2:1")
                .withCaCertFile(file.toString())
                .build());

    assertThat(inCluster).isEqualTo(outside);
    assertThat(inCluster.source()).contains("CA certificate");
    assertThat(inCluster.shortId()).hasSize(12).isEqualTo(inCluster.id().substring(0, 12));
  }

  @Test
  void anotherClusterIsAnotherIdentityAndWithoutACaTheUrlNamesIt() {
    String a = Base64.getEncoder().encodeToString(CA_A.getBytes(StandardCharsets.UTF_8));
    String b = Base64.getEncoder().encodeToString(CA_B.getBytes(StandardCharsets.UTF_8));

    assertThat(ClusterIdentity.of(config("https://api.example:6443", a)))
        .isNotEqualTo(ClusterIdentity.of(config("https://api.example:6443", b)));
    ClusterIdentity noCa = ClusterIdentity.of(config("http://127.0.0.1:8080", null));
    assertThat(noCa.source()).contains("URL");
    assertThat(noCa).isNotEqualTo(ClusterIdentity.of(config("http://127.0.0.1:8081", null)));
  }
}
