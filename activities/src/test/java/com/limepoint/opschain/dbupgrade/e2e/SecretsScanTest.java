package com.limepoint.opschain.dbupgrade.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The scan finds a secret inside an encoded payload, and only a secret. */
class SecretsScanTest {

  private static String payload(String json) {
    return "{\"data\": \""
        + Base64.getEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8))
        + "\"}";
  }

  @Test
  void aSecretInsideABase64PayloadIsFound() {
    String history =
        "{\"events\": ["
            + payload("{\"diff\":\"+  password: " + SecretsScan.PASSWORD + "\"}")
            + ","
            + payload("{\"license\":\"" + SecretsScan.LICENCE_2 + "\"}")
            + "]}";

    assertThat(SecretsScan.inHistory("wf", history))
        .containsExactly(
            "history of wf holds " + SecretsScan.PASSWORD,
            "history of wf holds " + SecretsScan.LICENCE_2);
  }

  @Test
  void keyPathsAndHashesAreNotSecrets() {
    String history =
        payload(
            "{\"diff\":\"values.migration.yaml (412 bytes, sha256 ab12) keys changed:\\n"
                + "+ db.recoveryMode: true\"}");

    assertThat(SecretsScan.inHistory("wf", history)).isEmpty();
  }
}
