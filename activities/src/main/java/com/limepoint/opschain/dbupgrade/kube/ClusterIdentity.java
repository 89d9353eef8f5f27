package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Which Kubernetes cluster a worker talks to: the UID of its {@code kube-system} namespace (created
 * once with the cluster and never renamed; the worker may read that one namespace through the
 * ClusterRole in deploy/rbac.yaml), or, where that cannot be read, the SHA-256 of the API server's
 * URL and CA. The worker's host and cluster task queues carry its short form, so an upgrade bound
 * to one cluster never runs a step on a worker of another that shares the Temporal namespace.
 *
 * @param id the full identity
 * @param source how it was found, for the evidence
 */
public record ClusterIdentity(String id, String source) {

  /** The first 12 characters, for task queue names. */
  public String shortId() {
    String plain = id.replace("-", "");
    return plain.substring(0, Math.min(12, plain.length()));
  }

  public static ClusterIdentity of(KubernetesClient client) {
    try {
      Namespace ns = client.namespaces().withName("kube-system").get();
      if (ns != null && ns.getMetadata().getUid() != null) {
        return new ClusterIdentity(ns.getMetadata().getUid(), "kube-system namespace uid");
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403 && e.getCode() != 401 && e.getCode() != 404) {
        throw e;
      }
    }
    var config = client.getConfiguration();
    String ca = config.getCaCertData() != null ? config.getCaCertData() : config.getCaCertFile();
    return new ClusterIdentity(
        sha256(client.getMasterUrl() + "\n" + ca), "sha-256 of the API server URL and CA");
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
