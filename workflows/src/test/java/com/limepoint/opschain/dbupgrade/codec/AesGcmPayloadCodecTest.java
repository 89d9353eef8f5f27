package com.limepoint.opschain.dbupgrade.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflowImpl;
import io.temporal.api.common.v1.Payload;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.payload.codec.PayloadCodecException;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AesGcmPayloadCodecTest {
  static final byte[] KEY = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  static final byte[] OLD_KEY =
      "fedcba9876543210fedcba9876543210".getBytes(StandardCharsets.US_ASCII);

  final AesGcmPayloadCodec codec = new AesGcmPayloadCodec(List.of(KEY));

  @Test
  void aRecordRoundTripsAndTheEncodedPayloadHidesIt() {
    GateDecision d = new GateDecision("START", "alice", "maintenance window 22:00");
    Optional<io.temporal.api.common.v1.Payloads> encoded = codec.dataConverter().toPayloads(d);

    Payload p = encoded.orElseThrow().getPayloads(0);
    assertThat(p.getMetadataOrThrow("encoding").toStringUtf8()).isEqualTo("binary/encrypted");
    assertThat(p.getMetadataOrThrow(AesGcmPayloadCodec.KEY_ID).toStringUtf8())
        .isEqualTo(AesGcmPayloadCodec.keyId(KEY))
        .startsWith("sha256:");
    assertThat(p.getData().toString(StandardCharsets.ISO_8859_1))
        .doesNotContain("alice", "START", "maintenance");
    assertThat(
            codec.dataConverter().fromPayloads(0, encoded, GateDecision.class, GateDecision.class))
        .isEqualTo(d);
    // A random nonce per payload: the same value never encrypts to the same bytes.
    assertThat(codec.dataConverter().toPayloads(d).orElseThrow().getPayloads(0).getData())
        .isNotEqualTo(p.getData());
  }

  @Test
  void anAlteredPayloadOrAnUnknownKeyFailsToDecodeWithTheReason() {
    Payload p = codec.encode(List.of(plain("{\"x\":1}"))).get(0);
    byte[] data = p.getData().toByteArray();
    data[data.length - 1] ^= 1;
    Payload altered = p.toBuilder().setData(ByteString.copyFrom(data)).build();

    assertThatThrownBy(() -> codec.decode(List.of(altered)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("does not decrypt");
    assertThatThrownBy(() -> new AesGcmPayloadCodec(List.of(OLD_KEY)).decode(List.of(p)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining(AesGcmPayloadCodec.keyId(KEY));
  }

  @Test
  void afterARotationPayloadsOfTheOldKeyStillDecodeAndNewOnesUseTheNewKey() {
    Payload old =
        new AesGcmPayloadCodec(List.of(OLD_KEY)).encode(List.of(plain("{\"old\":true}"))).get(0);
    AesGcmPayloadCodec rotated = new AesGcmPayloadCodec(List.of(KEY, OLD_KEY));

    assertThat(rotated.decode(List.of(old)).get(0).getData().toStringUtf8())
        .isEqualTo("{\"old\":true}");
    assertThat(
            rotated
                .encode(List.of(plain("{}")))
                .get(0)
                .getMetadataOrThrow(AesGcmPayloadCodec.KEY_ID)
                .toStringUtf8())
        .isEqualTo(AesGcmPayloadCodec.keyId(KEY));
    // Unencrypted payloads (written before encryption was turned on) pass through.
    assertThat(rotated.decode(List.of(plain("{\"a\":1}"))).get(0)).isEqualTo(plain("{\"a\":1}"));
  }

  @Test
  void keyFilesAreReadAndABadOneIsNamed(@TempDir Path dir) throws Exception {
    Path good =
        Files.writeString(dir.resolve("key"), Base64.getEncoder().encodeToString(KEY) + "\n");
    Path shortKey =
        Files.writeString(dir.resolve("short"), Base64.getEncoder().encodeToString(new byte[16]));
    Path notBase64 = Files.writeString(dir.resolve("text"), "my secret passphrase");

    assertThat(AesGcmPayloadCodec.fromKeyFiles(List.of(good)).encryptKeyId())
        .isEqualTo(AesGcmPayloadCodec.keyId(KEY));
    assertThatThrownBy(() -> AesGcmPayloadCodec.fromKeyFiles(List.of(shortKey)))
        .hasMessageContaining(shortKey.toString())
        .hasMessageContaining("16 bytes");
    assertThatThrownBy(() -> AesGcmPayloadCodec.fromKeyFiles(List.of(notBase64)))
        .hasMessageContaining(notBase64.toString())
        .hasMessageContaining("not a base64 key")
        .hasMessageNotContaining("passphrase");
  }

  @Test
  void theServerHistoryHoldsOnlyCiphertextWhileTheClientReadsTheFailure() {
    WorkflowClientOptions options =
        WorkflowClientOptions.newBuilder().setDataConverter(codec.dataConverter()).build();
    try (TestWorkflowEnvironment env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setWorkflowClientOptions(options).build())) {
      env.newWorker(DbUpgradeWorkflow.TASK_QUEUE)
          .registerWorkflowImplementationTypes(DbUpgradeWorkflowImpl.class);
      env.start();
      WorkflowClient client = env.getWorkflowClient();
      String id = "opschain-db-upgrade-opschain";
      // A bad request: the workflow fails at once, quoting the bad values in its failure.
      Map<String, Object> bad =
          Map.of(
              "namespace",
              "opschain",
              "release",
              "Secret_Release_Name",
              "chart",
              "opschain/opschain",
              "currentVersion",
              "2025-10-01",
              "targetVersion",
              "2026-02-10",
              "valuesFile",
              "/etc/opschain/values.yaml");
      var stub =
          client.newUntypedWorkflowStub(
              "DbUpgradeWorkflow",
              WorkflowOptions.newBuilder()
                  .setTaskQueue(DbUpgradeWorkflow.TASK_QUEUE)
                  .setWorkflowId(id)
                  .build());
      stub.start(bad);

      WorkflowFailedException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              WorkflowFailedException.class, () -> stub.getResult(Void.class));
      ApplicationFailure failure = (ApplicationFailure) e.getCause();
      assertThat(failure.getType()).isEqualTo(FailureTypes.INVALID_REQUEST);
      assertThat(failure.getOriginalMessage()).contains("Secret_Release_Name");

      List<HistoryEvent> events = client.fetchHistory(id).getEvents();
      HistoryEvent startedEvent = events.get(0);
      Payload input =
          startedEvent.getWorkflowExecutionStartedEventAttributes().getInput().getPayloads(0);
      assertThat(input.getMetadataOrThrow("encoding").toStringUtf8()).isEqualTo("binary/encrypted");
      String stored = events.stream().map(HistoryEvent::toString).reduce("", String::concat);
      assertThat(stored).doesNotContain("Secret_Release_Name").doesNotContain("values.yaml");
      assertThat(events)
          .anyMatch(ev -> ev.getEventType() == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
    }
  }

  private static Payload plain(String json) {
    return Payload.newBuilder()
        .putMetadata("encoding", ByteString.copyFromUtf8("json/plain"))
        .setData(ByteString.copyFromUtf8(json))
        .build();
  }
}
