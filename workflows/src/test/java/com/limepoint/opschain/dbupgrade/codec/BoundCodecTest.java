package com.limepoint.opschain.dbupgrade.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.temporal.api.common.v1.Payload;
import io.temporal.payload.codec.PayloadCodec;
import io.temporal.payload.codec.PayloadCodecException;
import io.temporal.payload.context.WorkflowSerializationContext;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Payloads are sealed for one workflow, and a codec that requires encryption refuses plaintext. */
class BoundCodecTest {
  static final AesGcmPayloadCodec CODEC = new AesGcmPayloadCodec(List.of(key()));

  private static byte[] key() {
    byte[] k = new byte[32];
    new SecureRandom().nextBytes(k);
    return k;
  }

  private static PayloadCodec forWorkflow(AesGcmPayloadCodec codec, String id) {
    return codec.withContext(new WorkflowSerializationContext("default", id));
  }

  private static final Payload APPROVAL =
      Payload.newBuilder()
          .putMetadata("encoding", ByteString.copyFromUtf8("json/plain"))
          .setData(ByteString.copyFromUtf8("{\"gate\":\"FINALIZE\",\"by\":\"alice\"}"))
          .build();

  @Test
  void aPayloadSealedForOneWorkflowIsRefusedInAnother() {
    Payload sealed = forWorkflow(CODEC, "opschain-db-upgrade-a").encode(List.of(APPROVAL)).get(0);

    assertThat(sealed.getMetadataOrThrow(AesGcmPayloadCodec.BINDING).toStringUtf8())
        .isEqualTo("default/opschain-db-upgrade-a");
    assertThat(forWorkflow(CODEC, "opschain-db-upgrade-a").decode(List.of(sealed)))
        .containsExactly(APPROVAL);
    assertThatThrownBy(() -> forWorkflow(CODEC, "opschain-db-upgrade-b").decode(List.of(sealed)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("sealed for default/opschain-db-upgrade-a")
        .hasMessageContaining("moved between workflows");
    // Relabelled to pass the check, the associated data no longer matches: the tag fails.
    Payload relabelled =
        sealed.toBuilder()
            .putMetadata(
                AesGcmPayloadCodec.BINDING,
                ByteString.copyFromUtf8("default/opschain-db-upgrade-b"))
            .build();
    assertThatThrownBy(
            () -> forWorkflow(CODEC, "opschain-db-upgrade-b").decode(List.of(relabelled)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("does not decrypt");
  }

  @Test
  void aCodecThatRequiresEncryptionRefusesAPlaintextApproval() {
    assertThat(CODEC.decode(List.of(APPROVAL))).containsExactly(APPROVAL);
    assertThatThrownBy(() -> CODEC.requiringEncryption().decode(List.of(APPROVAL)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("plaintext payload (json/plain) was refused");
  }
}
