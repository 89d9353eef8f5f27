package com.limepoint.opschain.dbupgrade.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CNPG's instance manager for the harness: when the operator starts an instance pod, PostgreSQL
 * starts on the instance's data volume, and exec into the pod reaches it; when the pod goes
 * (hibernation deletes it, keeping the PVC: CNPG docs "Declarative hibernation"), the server stops.
 * The data volume of a cluster is a local directory the test names ({@link
 * ClusterInABox#cnpgDataAt}); without one, the instance serves no PostgreSQL of its own.
 */
final class CnpgInstances implements AutoCloseable {
  private final ExecBindings exec;
  private final Map<String, Path> data = new ConcurrentHashMap<>();
  private final Map<String, LocalPostgres> running = new ConcurrentHashMap<>();

  CnpgInstances(ExecBindings exec) {
    this.exec = exec;
  }

  /**
   * Exec into the instance pod runs local commands with {@code PGHOST} and {@code PGPORT} pointing
   * at the local PostgreSQL on {@code port}, as CNPG sets them in the postgres container
   * (cloudnative-pg pkg/specs/pods.go), so a plain {@code psql -U postgres} connects as in the pod.
   */
  static void serves(ExecBindings exec, String ns, String pod, int port) {
    exec.bindPod(
        ns,
        new PodRuntime(pod, 0, Map.of("PGHOST", "127.0.0.1", "PGPORT", Integer.toString(port))));
  }

  /**
   * The primary's labels: the cluster's and {@code cnpg.io/instanceRole=primary} (CNPG pkg/specs
   * ClusterRoleLabelPrimary), which {@code kubectl cnpg psql} selects it by.
   */
  static Map<String, String> primaryLabels(Map<String, String> clusterSelector) {
    Map<String, String> labels = new java.util.HashMap<>(clusterSelector);
    labels.put("cnpg.io/instanceRole", "primary");
    return labels;
  }

  void dataAt(String ns, String cluster, Path pgdata) {
    data.put(ns + "/" + cluster, pgdata);
  }

  /** The instance pod {@code pod} of the cluster runs: its PostgreSQL starts on the volume. */
  void started(String ns, String cluster, String pod) {
    String key = ns + "/" + cluster;
    Path pgdata = data.get(key);
    if (pgdata == null
        || !Files.isRegularFile(pgdata.resolve("PG_VERSION"))
        || exec.boundPod(ns, pod) != null) {
      // No volume named, nothing on it yet, or the test made the pod serve its own database
      // (an import's): that pod serves what it was given.
      return;
    }
    running.computeIfAbsent(
        key,
        k -> {
          try {
            LocalPostgres pg = LocalPostgres.startExisting(pgdata);
            serves(exec, ns, pod, pg.port());
            return pg;
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  /** The cluster's pods are gone: its PostgreSQL stops, the volume stays. */
  void stopped(String ns, String cluster) {
    // The pod that served is gone; the next instance pod serves the volume.
    exec.unbindPod(ns, cluster + "-1");
    LocalPostgres pg = running.remove(ns + "/" + cluster);
    if (pg != null) {
      try {
        pg.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  LocalPostgres running(String ns, String cluster) {
    return running.get(ns + "/" + cluster);
  }

  @Override
  public void close() {
    running
        .keySet()
        .forEach(k -> stopped(k.substring(0, k.indexOf('/')), k.substring(k.indexOf('/') + 1)));
  }
}
