package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.client.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Which Kubernetes cluster a worker talks to, known without a call to it: the SHA-256 of the
 * cluster's CA certificate as the worker's kubeconfig (or in-cluster service account) gives it,
 * which every client of one cluster shares whatever address it uses, and no other cluster has (each
 * generates its own CA); without a CA, the API server's URL. It is the same on every start, with
 * the API server up or down, so the task queues named by it never change under a running upgrade.
 * The worker's host and cluster task queues carry its short form, so an upgrade bound to one
 * cluster never runs a step on a worker of another that shares the Temporal namespace.
 *
 * @param id the full identity (64 hex digits)
 * @param source what it was computed from, for the evidence
 */
public record ClusterIdentity(String id, String source) {

  /** The first 12 hex digits, for task queue names. */
  public String shortId() {
    return id.substring(0, 12);
  }

  public static ClusterIdentity of(Config config) {
    String ca = caCertificate(config);
    if (ca != null) {
      return new ClusterIdentity(sha256(ca), "SHA-256 of the cluster's CA certificate");
    }
    return new ClusterIdentity(
        sha256(config.getMasterUrl()), "SHA-256 of the API server URL (no CA configured)");
  }

  /** The CA certificate's PEM without line breaks, from the data or the file the config names. */
  private static String caCertificate(Config config) {
    String data = config.getCaCertData();
    String pem;
    if (data != null && !data.isBlank()) {
      pem = new String(java.util.Base64.getMimeDecoder().decode(data), StandardCharsets.UTF_8);
    } else if (config.getCaCertFile() != null
        && Files.isReadable(Path.of(config.getCaCertFile()))) {
      try {
        pem = Files.readString(Path.of(config.getCaCertFile()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    } else {
      return null;
    }
    return pem.replaceAll("\\s", "");
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
