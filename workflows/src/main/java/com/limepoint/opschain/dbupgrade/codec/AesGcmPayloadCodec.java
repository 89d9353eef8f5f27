package com.limepoint.opschain.dbupgrade.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.CodecDataConverter;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.payload.codec.PayloadCodec;
import io.temporal.payload.codec.PayloadCodecException;
import io.temporal.payload.context.HasWorkflowSerializationContext;
import io.temporal.payload.context.SerializationContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Optional payload encryption: every payload (workflow input, results, signals, updates, queries,
 * heartbeats) leaves the worker and the starter as AES-256-GCM ciphertext, so the Temporal server
 * and its database see no request data. The key id, derived from the key (never the key), goes in
 * the payload metadata, so payloads written under an older key still decode while that key is
 * listed among the decryption keys (key rotation).
 *
 * <p>A key file holds one base64-encoded 32-byte key: {@code head -c 32 /dev/urandom | base64 >
 * key}. This is the pattern of the samples' {@code encryptedpayloads}, with an authenticated cipher
 * and a random 96-bit nonce per payload.
 */
public final class AesGcmPayloadCodec implements PayloadCodec {
  public static final String ENCODING = "binary/encrypted";
  public static final String KEY_ID = "encryption-key-id";
  public static final String CIPHER_KEY = "encryption-cipher";
  private static final String CIPHER = "AES/GCM/NoPadding";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  /** Metadata: the namespace and workflow id the payload was sealed for (its associated data). */
  public static final String BINDING = "encryption-binding";

  private final String encryptKeyId;
  private final Map<String, SecretKeySpec> keys;
  private final SecureRandom random;
  private final boolean required;
  private final String binding;

  /** Encrypts with the first key; decrypts with any of them. */
  public AesGcmPayloadCodec(List<byte[]> keyBytes) {
    this.keys = new LinkedHashMap<>();
    this.random = new SecureRandom();
    this.required = false;
    this.binding = null;
    if (keyBytes.isEmpty()) {
      throw new IllegalArgumentException("at least one key is needed");
    }
    for (byte[] k : keyBytes) {
      if (k.length != 32) {
        throw new IllegalArgumentException("an AES-256 key is 32 bytes, this one is " + k.length);
      }
      keys.put(keyId(k), new SecretKeySpec(k, "AES"));
    }
    this.encryptKeyId = keys.keySet().iterator().next();
  }

  private AesGcmPayloadCodec(AesGcmPayloadCodec from, boolean required, String binding) {
    this.keys = from.keys;
    this.random = from.random;
    this.encryptKeyId = from.encryptKeyId;
    this.required = required;
    this.binding = binding;
  }

  /**
   * This codec, refusing plaintext payloads on decode: in an encrypted namespace nobody who may
   * signal can send an unencrypted approval (or any other input) past it.
   */
  public AesGcmPayloadCodec requiringEncryption() {
    return new AesGcmPayloadCodec(this, true, binding);
  }

  /**
   * Bound to the workflow the SDK serializes for (namespace and workflow id, from a workflow or
   * activity serialization context): payloads sealed here carry that binding as associated data,
   * and one sealed for another workflow is refused, so a payload cannot be moved between workflows.
   * Without such a context the codec is unbound (and decodes what a bound one sealed by the binding
   * the payload names, which its tag still checks).
   */
  @Override
  public PayloadCodec withContext(SerializationContext context) {
    if (context instanceof HasWorkflowSerializationContext w
        && w.getNamespace() != null
        && w.getWorkflowId() != null) {
      return new AesGcmPayloadCodec(this, required, w.getNamespace() + "/" + w.getWorkflowId());
    }
    return this;
  }

  /** Reads key files (the first encrypts); a clear error names a file that is not a key. */
  public static AesGcmPayloadCodec fromKeyFiles(List<Path> files) {
    List<byte[]> keys = new java.util.ArrayList<>();
    for (Path f : files) {
      try {
        byte[] k =
            Base64.getDecoder().decode(Files.readString(f, StandardCharsets.US_ASCII).strip());
        if (k.length != 32) {
          throw new IllegalArgumentException(
              f
                  + " holds "
                  + k.length
                  + " bytes; an AES-256 key is 32 (head -c 32 /dev/urandom | base64)");
        }
        keys.add(k);
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "cannot read the encryption key file " + f + ": " + e.getMessage(), e);
      } catch (IllegalArgumentException e) {
        if (e.getMessage() != null && e.getMessage().startsWith(f.toString())) {
          throw e;
        }
        throw new IllegalArgumentException(
            f + " is not a base64 key (head -c 32 /dev/urandom | base64)", e);
      }
    }
    return new AesGcmPayloadCodec(keys);
  }

  /**
   * The default JSON data converter with this codec in front of it. Failure messages and stack
   * traces are encoded too: they can quote request data.
   */
  public DataConverter dataConverter() {
    return new CodecDataConverter(DefaultDataConverter.newDefaultInstance(), List.of(this), true);
  }

  /** The id that names a key in payload metadata: a hash prefix, which does not reveal it. */
  public static String keyId(byte[] key) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(key);
      return "sha256:" + HexFormat.of().formatHex(h, 0, 8);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public String encryptKeyId() {
    return encryptKeyId;
  }

  @Override
  public List<Payload> encode(List<Payload> payloads) {
    return payloads.stream().map(this::encrypt).toList();
  }

  @Override
  public List<Payload> decode(List<Payload> payloads) {
    return payloads.stream().map(this::decrypt).toList();
  }

  private Payload encrypt(Payload p) {
    try {
      byte[] nonce = new byte[NONCE_BYTES];
      random.nextBytes(nonce);
      Cipher c = Cipher.getInstance(CIPHER);
      c.init(Cipher.ENCRYPT_MODE, keys.get(encryptKeyId), new GCMParameterSpec(TAG_BITS, nonce));
      if (binding != null) {
        c.updateAAD(binding.getBytes(StandardCharsets.UTF_8));
      }
      byte[] sealed = c.doFinal(p.toByteArray());
      byte[] data = new byte[NONCE_BYTES + sealed.length];
      System.arraycopy(nonce, 0, data, 0, NONCE_BYTES);
      System.arraycopy(sealed, 0, data, NONCE_BYTES, sealed.length);
      Payload.Builder out =
          Payload.newBuilder()
              .putMetadata("encoding", ByteString.copyFromUtf8(ENCODING))
              .putMetadata(CIPHER_KEY, ByteString.copyFromUtf8(CIPHER))
              .putMetadata(KEY_ID, ByteString.copyFromUtf8(encryptKeyId))
              .setData(ByteString.copyFrom(data));
      if (binding != null) {
        out.putMetadata(BINDING, ByteString.copyFromUtf8(binding));
      }
      return out.build();
    } catch (GeneralSecurityException e) {
      throw new PayloadCodecException(e);
    }
  }

  private Payload decrypt(Payload p) {
    ByteString encoding = p.getMetadataOrDefault("encoding", ByteString.EMPTY);
    if (!encoding.toStringUtf8().equals(ENCODING)) {
      if (required) {
        throw new PayloadCodecException(
            "a plaintext payload ("
                + encoding.toStringUtf8()
                + ") was refused: this process requires encrypted payloads; send it with the"
                + " encryption key (the starter's --encryption-key-file, or a codec server)");
      }
      return p;
    }
    String sealedFor = p.getMetadataOrDefault(BINDING, ByteString.EMPTY).toStringUtf8();
    if (binding != null && !sealedFor.isEmpty() && !sealedFor.equals(binding)) {
      throw new PayloadCodecException(
          "payload sealed for "
              + sealedFor
              + " was refused in "
              + binding
              + ": moved between workflows");
    }
    String id = p.getMetadataOrDefault(KEY_ID, ByteString.EMPTY).toStringUtf8();
    SecretKeySpec key = keys.get(id);
    if (key == null) {
      throw new PayloadCodecException(
          "payload encrypted with key "
              + id
              + ", which is not among this process's keys "
              + keys.keySet());
    }
    byte[] data = p.getData().toByteArray();
    if (data.length <= NONCE_BYTES) {
      throw new PayloadCodecException("encrypted payload too short");
    }
    try {
      Cipher c = Cipher.getInstance(CIPHER);
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, data, 0, NONCE_BYTES));
      if (!sealedFor.isEmpty()) {
        c.updateAAD(sealedFor.getBytes(StandardCharsets.UTF_8));
      }
      return Payload.parseFrom(c.doFinal(data, NONCE_BYTES, data.length - NONCE_BYTES));
    } catch (GeneralSecurityException | InvalidProtocolBufferException e) {
      throw new PayloadCodecException(
          "payload with key "
              + id
              + " does not decrypt (altered, or a different key with the same id)",
          e);
    }
  }
}
