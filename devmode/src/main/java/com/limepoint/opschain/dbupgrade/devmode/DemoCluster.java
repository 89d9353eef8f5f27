package com.limepoint.opschain.dbupgrade.devmode;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micronaut.context.annotation.Requires;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev mode's demo cluster: the testkit's cluster-in-a-box with an OpsChain release on
 * 2025-10-01 (the test chart, rendered by the real Helm), a real local PostgreSQL behind the legacy
 * {@code opschain-db} deployment with some rows, and the PVC of the CNPG cluster for the manual
 * path. It writes the demo's upgrade request to {@code <demoDir>/request.json}.
 */
@Singleton
@Requires(env = "dev")
public final class DemoCluster {
  /**
   * What a production values file also holds, made up: the workflow must never show or record it
   * (DevModeIT scans the starter's output and the stored history for these strings).
   */
  public static final String DEMO_SECRETS =
      "  password: \"demo-db-password-7c1e\"\n"
          + "license: |\n  DEMO-LICENCE-LINE-ONE-3b9d\n  DEMO-LICENCE-LINE-TWO-5a0f\n"
          + "databaseUrl: postgres://opschain:demo-url-pass-2e6c@opschain-db:5432/opschain\n"
          + "env:\n  - name: API_TOKEN\n    value: demo-env-secret-91d4\n";

  public static final String NAMESPACE = "opschain";
  private static final Logger log = LoggerFactory.getLogger(DemoCluster.class);

  private final ClusterInABox box;
  private final ChartReleases releases;
  private final KubernetesClient activityClient;
  private final LocalPostgres legacy;
  private LocalPostgres cnpg;
  private final Path dir;
  private final boolean simulated;

  public DemoCluster(DevConfig config) throws IOException {
    dir = config.demoPath();
    if (Files.exists(dir)) {
      try (var paths = Files.walk(dir)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    Files.createDirectories(dir);
    simulated = config.demoSimulated() || !LocalPostgres.available();
    box = new ClusterInABox();
    box.client()
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .create();
    box.installCnpgOperator();
    box.bindExec(NAMESPACE, "restore-from-backup", 0);
    // The CNPG instance runs on the restore PVC's data after a manual restore.
    box.cnpgDataAt(NAMESPACE, "opschain-db", dir.resolve("pvc/data/pgdata"));
    if (simulated) {
      log.warn(
          "dev mode: {}; the demo simulates the database: pg_basebackup writes a small synthetic backup (copied, hashed and"
              + " verified for real) and the CNPG import copies nothing. For a real backup and restore: apt-get install postgresql-15",
          config.demoSimulated()
              ? "simulation asked for"
              : "PostgreSQL 15 is not installed (" + LocalPostgres.BIN + ")");
      box.simulatedPostgresFor(NAMESPACE, "opschain-db");
      box.simulatedCnpgInstance(NAMESPACE, "opschain-db-1");
      legacy = null;
    } else {
      legacy = LocalPostgres.init(dir.resolve("legacy/data/pgdata"), "opschain");
      legacy.sql("opschain", "CREATE TABLE changes(id int PRIMARY KEY, summary text NOT NULL)");
      legacy.sql(
          "opschain",
          "INSERT INTO changes SELECT g, 'change ' || g FROM generate_series(1, 5000) g");
      box.postgresFor(NAMESPACE, "opschain-db", legacy.port());
      box.onImport(() -> {
        try {
          cnpg = LocalPostgres.init(dir.resolve("cnpg/data/pgdata"), "opschain");
          cnpg.importFrom(legacy, "opschain");
          box.cnpgInstanceServes(NAMESPACE, "opschain-db-1", cnpg.port());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
    Path values =
        Files.writeString(
            Files.createDirectories(dir.resolve("etc")).resolve("values.yaml"),
            "# OpsChain values (demo)\ndb:\n  # the legacy database volume\n  volume:\n    storageClass: null\n    size: \"10Gi\"\n"
                + DEMO_SECRETS);
    // Without a worker here, the releases are kept in the cluster, where the other one finds them.
    releases = new ChartReleases(box.client(), ChartReleases.testChart(dir), !config.devWorker());
    releases.upgrade(
        new ChartReleases.Call(
            NAMESPACE,
            "opschain",
            "2025-10-01",
            List.of(values.toString()),
            Map.of(),
            "Install complete"));
    activityClient = box.activityClient();
    writeRequest(values);
    writeKubeconfig(activityClient.getMasterUrl().toString());
    log.info(
        "dev mode: demo cluster up: namespace {}, release opschain 2025-10-01, {}; request in {}",
        NAMESPACE,
        simulated
            ? "simulated database"
            : legacy.sql("opschain", "SELECT count(*) FROM changes")
                + " rows in the legacy database",
        dir.resolve("request.json"));
  }

  /** The demo directory: the database, backups, request, kubeconfig and the dev server's file. */
  public Path directory() {
    return dir;
  }

  /** The demo cluster's kubeconfig, for {@code kubectl} and for a worker in another process. */
  public Path kubeconfig() {
    return dir.resolve("kubeconfig");
  }

  /** Writes {@link #kubeconfig()}: the demo cluster's API server and the demo's namespace. */
  private void writeKubeconfig(String server) throws IOException {
    Files.writeString(
        kubeconfig(),
        """
        apiVersion: v1
        kind: Config
        clusters: [{name: demo, cluster: {server: "%s"}}]
        users: [{name: demo, user: {token: demo}}]
        contexts: [{name: demo, context: {cluster: demo, user: demo, namespace: %s}}]
        current-context: demo
        """
            .formatted(server, NAMESPACE));
  }

  /**
   * Another OpsChain in the demo cluster, for the load benchmark: namespace {@code ns} with its own
   * release on 2025-10-01 and a simulated database (a simulated demo only). Its request is {@code
   * <demoDir>/<ns>/request.json}, returned.
   */
  public Path addOpsChain(String ns) throws IOException {
    if (!simulated) {
      throw new IllegalStateException("more OpsChains need the simulated demo");
    }
    box.client()
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();
    box.simulatedPostgresFor(ns, "opschain-db");
    box.simulatedCnpgInstance(ns, "opschain-db-1");
    Path home = Files.createDirectories(dir.resolve(ns));
    Path values =
        Files.writeString(
            Files.createDirectories(home.resolve("etc")).resolve("values.yaml"),
            "# OpsChain values ("
                + ns
                + ")\ndb:\n  volume:\n    storageClass: null\n    size: \"10Gi\"\n");
    releases.upgrade(
        new ChartReleases.Call(
            ns,
            "opschain",
            "2025-10-01",
            List.of(values.toString()),
            Map.of(),
            "Install complete"));
    writeRequest(ns, values, home);
    return home.resolve("request.json");
  }

  private void writeRequest(Path values) throws IOException {
    writeRequest(NAMESPACE, values, dir);
  }

  private void writeRequest(String namespace, Path values, Path dir) throws IOException {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("namespace", namespace);
    r.put("release", "opschain");
    r.put("chart", "opschain/opschain");
    r.put("currentVersion", "2025-10-01");
    r.put("targetVersion", "2026-02-10");
    r.put("valuesFile", values.toString());
    r.put("hostBackupDir", dir.resolve("host/backup").toString());
    r.put("podBackupDir", dir.resolve("pod/tmp/backup").toString());
    r.put("pgdata", dir.resolve("pvc/data/pgdata").toString());
    r.put("dataOwner", simulated ? "26:26" : LocalPostgres.serverOwner());
    r.put("importTimeout", "10m");
    // The harness's restore image is this machine's PostgreSQL, the major of the demo's backup.
    r.put("restoreImage", ClusterInABox.RESTORE_IMAGE);
    r.put("gateTimeout", "1h");
    if (simulated) {
      // A synthetic backup cannot be started: the rehearsal is skipped, and the gate says why.
      r.put("skipRehearsal", "the demo simulates the database (PostgreSQL 15 is not installed)");
    }
    new ObjectMapper()
        .enable(SerializationFeature.INDENT_OUTPUT)
        .writeValue(dir.resolve("request.json").toFile(), r);
  }

  public KubernetesClient activityClient() {
    return activityClient;
  }

  /** The cluster-in-a-box behind the demo (tests slow or stop its pod commands). */
  public ClusterInABox box() {
    return box;
  }

  public ChartReleases releases() {
    return releases;
  }

  /** Rows in the database OpsChain uses now: the CNPG one after the import, else the legacy one. */
  public String rows() throws IOException {
    if (simulated) {
      return "simulated";
    }
    return (cnpg != null ? cnpg : legacy).sql("opschain", "SELECT count(*) FROM changes");
  }

  public boolean simulated() {
    return simulated;
  }

  @PreDestroy
  void close() throws IOException {
    activityClient.close();
    box.close();
    if (cnpg != null) {
      cnpg.close();
    }
    if (legacy != null) {
      legacy.close();
    }
  }
}
