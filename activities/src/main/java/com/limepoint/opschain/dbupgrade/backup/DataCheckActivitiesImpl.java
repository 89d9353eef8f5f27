package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.kube.DbPods;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@link DataCheckActivities}: the census through psql in the database's pod, kept as a file on
 * this host; the restore rehearsal in a scratch pod ({@link Rehearsal}).
 */
public class DataCheckActivitiesImpl implements DataCheckActivities {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(DataCheckActivitiesImpl.class);

  /** Counting every row of a large database takes a while: as long as a backup may. */
  static final Duration CENSUS = Duration.ofHours(6);

  private final KubernetesClient client;
  private final PodExec exec;
  private final RehearsalPod pods;

  public DataCheckActivitiesImpl(KubernetesClient client) {
    this.client = client;
    this.exec = new PodExec(client);
    this.pods = new RehearsalPod(client);
  }

  @Override
  public CensusResult census(CensusRequest r) {
    String pod =
        r.source() == Source.LEGACY_DEPLOYMENT
            ? DbPods.readyPod(client, r.namespace(), r.name())
            : primary(r.namespace(), r.name());
    List<String> argv =
        r.source() == Source.LEGACY_DEPLOYMENT
            ? PodCommands.census(r.dbUser(), r.database(), Census.SQL)
            : PodCommands.censusInInstance(r.database(), Census.SQL);
    return census(r.namespace(), pod, argv, r.database(), r.hostDir(), r.label(), r.baseline());
  }

  /** Runs the census in {@code pod}, writes it beside the backup, compares it with a baseline. */
  CensusResult census(
      String ns,
      String pod,
      List<String> argv,
      String database,
      String hostDir,
      String label,
      String baseline) {
    Heartbeats.beat(
        new Heartbeats.Checkpoint("census", null, 0, 0, null, "census " + label, List.of()));
    PodExec.Result res = exec.run(ns, pod, argv, CENSUS);
    if (!res.ok()) {
      // psql's stderr names the table or the permission; it holds no row data.
      throw ApplicationFailure.newFailure(
          "the census query in pod "
              + ns
              + "/"
              + pod
              + " exited "
              + res.exitCode()
              + ": "
              + firstLines(res.stderr(), 3),
          FailureTypes.CENSUS_FAILED);
    }
    Map<String, Census.Table> tables = Census.parse(res.stdout());
    Path file =
        Census.write(Path.of(hostDir).resolve("census-" + label + ".tsv"), database, tables);
    Comparison comparison = null;
    if (baseline != null) {
      Path base = Path.of(hostDir).resolve("census-" + baseline + ".tsv");
      if (!java.nio.file.Files.isRegularFile(base)) {
        throw ApplicationFailure.newNonRetryableFailure(
            "no census " + base + " to compare with", FailureTypes.CENSUS_FAILED);
      }
      comparison = Census.compare(baseline, Census.read(base), tables);
    }
    String sha;
    try {
      sha = HostFiles.sha256Hex(file);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    CensusResult result =
        new CensusResult(
            label,
            pod,
            database,
            tables.size(),
            Census.rows(tables),
            Census.checksummed(tables),
            file.toString(),
            sha,
            comparison);
    log.info("census {} in {}/{}: {}", label, ns, pod, result.summary());
    return result;
  }

  /**
   * The CNPG cluster's primary: the pod labelled {@code cnpg.io/instanceRole=primary} (CNPG
   * pkg/specs ClusterRoleLabelPrimary; {@code kubectl cnpg psql} picks it so), else the cluster
   * status's {@code currentPrimary}.
   */
  private String primary(String ns, String cluster) {
    List<Pod> labelled =
        client
            .pods()
            .inNamespace(ns)
            .withLabels(Map.of("cnpg.io/cluster", cluster, "cnpg.io/instanceRole", "primary"))
            .list()
            .getItems();
    Pod ready = labelled.stream().filter(DbPods::isReady).findFirst().orElse(null);
    if (ready != null) {
      return ready.getMetadata().getName();
    }
    GenericKubernetesResource c =
        client
            .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
            .inNamespace(ns)
            .withName(cluster)
            .get();
    Object status = c == null ? null : c.getAdditionalProperties().get("status");
    if (status instanceof Map<?, ?> s && s.get("currentPrimary") instanceof String p) {
      return p;
    }
    throw ApplicationFailure.newFailure(
        "CNPG cluster " + ns + "/" + cluster + " has no ready primary pod yet", "PodNotReady");
  }

  @Override
  public RehearsalResult rehearseRestore(RehearsalRequest r) {
    return new Rehearsal(this, exec, pods).run(r);
  }

  @Override
  public ChangeResult removeRehearsalPod(RehearsalRequest r) {
    Pod existing = client.pods().inNamespace(r.namespace()).withName(r.podName()).get();
    if (existing == null) {
      return ChangeResult.unchanged("pod " + r.podName() + " is already gone");
    }
    if (!pods.deleteIfOursAndWait(r.namespace(), r.podName(), Duration.ofMinutes(5))) {
      return ChangeResult.unchanged(
          "pod " + r.podName() + " was not created by this run; it was left alone");
    }
    return ChangeResult.changed("deleted the rehearsal pod " + r.podName());
  }

  /** The backup's PostgreSQL major version, from PG_VERSION in its base.tar.gz. */
  static String backupMajor(String hostDir) {
    return BaseArchive.pgVersion(new BackupActivities.BackupPgVersionRequest(hostDir)).pgVersion();
  }

  static String firstLines(String text, int n) {
    return String.join(" / ", text.strip().lines().limit(n).toList());
  }
}
