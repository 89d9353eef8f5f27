package com.limepoint.opschain.dbupgrade.workflows;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.mockingDetails;
import static org.mockito.Mockito.when;
import static org.mockito.Mockito.withSettings;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.HostActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitResult;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.mockito.invocation.Invocation;

/**
 * Mockito mocks of every activity group, answering like a healthy cluster, registered on the
 * workflow's task queue (Kubernetes groups) and on a host queue (file-affine groups) exactly as the
 * worker does. {@link #calls()} gives the activity calls across all groups in order.
 */
final class FakeActivities {
  static final String HOST_QUEUE = "opschain-db-upgrade-host-test";
  static final String DEPLOYED_VERSION = "2025-10-01";

  static final List<BackupFile> FILES =
      List.of(
          new BackupFile("base.tar.gz", 4096L, "aa11", 4096L, "aa11"),
          new BackupFile("pg_wal.tar.gz", 1024L, "bb22", 1024L, "bb22"),
          new BackupFile("backup_manifest", 512L, "cc33", 512L, "cc33"));

  final HostActivities host = mock(HostActivities.class, withSettings().withoutAnnotations());
  final ClusterActivities cluster =
      mock(ClusterActivities.class, withSettings().withoutAnnotations());
  final CnpgActivities cnpg = mock(CnpgActivities.class, withSettings().withoutAnnotations());
  final RestorePodActivities restorePod =
      mock(RestorePodActivities.class, withSettings().withoutAnnotations());
  final BackupActivities backup = mock(BackupActivities.class, withSettings().withoutAnnotations());
  final HelmActivities helm = mock(HelmActivities.class, withSettings().withoutAnnotations());
  final ValuesActivities values = mock(ValuesActivities.class, withSettings().withoutAnnotations());
  final DataCheckActivities dataCheck =
      mock(DataCheckActivities.class, withSettings().withoutAnnotations());

  FakeActivities() {
    ChangeResult changed = ChangeResult.changed("done");
    WaitResult waited = new WaitResult("condition met", 10);
    when(host.claimHost(any())).thenReturn(new HostActivities.HostQueue("test-host", HOST_QUEUE));
    when(helm.releaseStatus(any()))
        .thenReturn(
            new HelmActivities.ReleaseInfo(
                true, DEPLOYED_VERSION, 7, "deployed", "Upgrade complete"));
    when(helm.upgrade(any()))
        .thenReturn(new HelmActivities.HelmResult(8, "deployed", true, "upgraded"));
    when(cluster.preflight(any()))
        .thenReturn(
            new ClusterActivities.PreflightResult(
                true, false, 1_000_000L, List.of("namespace exists", "CNPG operator ready")));
    when(cluster.scaleDeployment(any())).thenReturn(changed);
    when(cluster.rolloutRestart(any())).thenReturn(changed);
    when(cluster.awaitWorkloadsStopped(any())).thenReturn(waited);
    when(cluster.awaitDeploymentReady(any())).thenReturn(waited);
    when(cluster.awaitRolloutComplete(any())).thenReturn(waited);
    when(cluster.awaitDeploymentGone(any())).thenReturn(waited);
    when(cluster.checkDatabaseBack(any()))
        .thenReturn(new WaitResult("PostgreSQL answers; system identifier as recorded", 10));
    when(backup.checkFreeSpace(any())).thenReturn(ChangeResult.unchanged("enough space"));
    when(backup.takeBackup(any()))
        .thenReturn(
            new BackupActivities.PodBackup("opschain-db-7d9f", "/tmp/backup", FILES, false));
    when(backup.copyBackupOut(any()))
        .thenReturn(
            new BackupEvidence("test-host", "/limepoint/backup/x", FILES, List.of(), false));
    when(backup.verifyBackup(any()))
        .thenReturn(
            new BackupEvidence(
                "test-host",
                "/limepoint/backup/x",
                FILES,
                List.of("sha256", "gzip -t", "tar -t"),
                true));
    when(backup.uploadBackup(any())).thenReturn(changed);
    when(values.prepareValues(any()))
        .thenAnswer(inv -> {
          ValuesActivities.ValuesRequest r = inv.getArgument(0);
          return new ValuesActivities.ValuesResult(
              r.outputDir() + "/values." + r.kind().name().toLowerCase() + ".yaml",
              "--- values.yaml\n+++ values."
                  + r.kind().name().toLowerCase()
                  + ".yaml\n+  recoveryMode: true\n");
        });
    when(cnpg.awaitImport(any()))
        .thenReturn(
            new CnpgActivities.ImportResult("Cluster in healthy state", 1, 1, 60_000, List.of()));
    when(cnpg.awaitClusterHealthy(any()))
        .thenReturn(
            new CnpgActivities.ImportResult("Cluster in healthy state", 1, 1, 1_000, List.of()));
    when(cnpg.checkOperator(any())).thenReturn(ChangeResult.unchanged("operator ready"));
    when(cnpg.deleteCluster(any())).thenReturn(changed);
    when(cnpg.setHibernation(any())).thenReturn(changed);
    when(cnpg.awaitDbPodGone(any())).thenReturn(waited);
    when(restorePod.createRestorePod(any())).thenReturn(changed);
    when(restorePod.saveConfFiles(any())).thenReturn(changed);
    when(restorePod.restorePgdata(any())).thenReturn(changed);
    when(restorePod.checkControlData(any()))
        .thenReturn(
            new RestorePodActivities.ControlDataResult(
                "in production", "Database cluster state:               in production"));
    when(restorePod.deleteRestorePod(any())).thenReturn(changed);
    when(backup.backupPgVersion(any()))
        .thenReturn(new BackupActivities.BackupPgVersion("/limepoint/backup/x", "15"));
    when(restorePod.checkRestoreTarget(any()))
        .thenReturn(
            new RestorePodActivities.RestoreTargetCheck(
                "postgres:15",
                "postgres (PostgreSQL) 15.6",
                "15",
                "15",
                "opschain-db-1",
                true,
                java.util.Map.of("cnpg.io/cluster", "opschain-db"),
                List.of("Cluster/opschain-db"),
                List.of()));
    dataChecks();
  }

  /** A census of 3 tables and 20000 rows, equal to the source's when it has a baseline. */
  static DataCheckActivities.CensusResult census(DataCheckActivities.CensusRequest r) {
    if (r == null) {
      return null; // a test restubbing with when(...) calls the mock with any()'s null
    }
    return new DataCheckActivities.CensusResult(
        r.label(),
        "pod",
        r.database(),
        3,
        20_000,
        3,
        r.hostDir() + "/census-" + r.label() + ".tsv",
        "dd44",
        r.baseline() == null
            ? null
            : new DataCheckActivities.Comparison(r.baseline(), true, 3, List.of()));
  }

  private void dataChecks() {
    when(dataCheck.census(any())).thenAnswer(inv -> census(inv.getArgument(0)));
    when(dataCheck.rehearseRestore(any()))
        .thenAnswer(inv -> {
          DataCheckActivities.RehearsalRequest r = inv.getArgument(0);
          if (r == null) {
            return null;
          }
          return new DataCheckActivities.RehearsalResult(
              true,
              r.podName(),
              "postgres (PostgreSQL) 15.6",
              "in production",
              12,
              census(
                  new DataCheckActivities.CensusRequest(
                      r.namespace(),
                      null,
                      r.podName(),
                      r.database(),
                      r.dbUser(),
                      r.hostDir(),
                      "rehearsal",
                      "source")),
              null,
              null);
        });
    when(dataCheck.removeRehearsalPod(any())).thenReturn(ChangeResult.unchanged("gone"));
  }

  /**
   * The host queue's worker, once registered: a test suspends its polling as a host that is gone.
   */
  Worker hostWorker;

  /**
   * The host's groups on a worker factory of their own: shutting it down is the host going away,
   * and a new one is its worker coming back.
   */
  io.temporal.worker.WorkerFactory hostFactory(io.temporal.client.WorkflowClient client) {
    io.temporal.worker.WorkerFactory f = io.temporal.worker.WorkerFactory.newInstance(client);
    f.newWorker(HOST_QUEUE, QueueOptions.of(8, false))
        .registerActivitiesImplementations(backup, helm, values, dataCheck);
    f.start();
    return f;
  }

  /** Registers the groups the way the worker does, then starts the environment. */
  void register(TestWorkflowEnvironment env, Worker sharedWorker) {
    sharedWorker.registerActivitiesImplementations(host, cluster, cnpg, restorePod);
    // As the worker polls it (QueueOptions): heartbeats, and so cancels, within seconds.
    env.newWorker(HOST_QUEUE, QueueOptions.of(8, false))
        .registerActivitiesImplementations(backup, helm, values, dataCheck);
    env.start();
  }

  /** Every activity call so far, in order, as "Group.method" with the Helm step or values kind. */
  List<String> calls() {
    return invocations().map(FakeActivities::name).toList();
  }

  /** The arguments of every call so far, in order. */
  List<Object> arguments() {
    return invocations().map(i -> i.getArguments()[0]).toList();
  }

  private Stream<Invocation> invocations() {
    return Stream.of(host, cluster, cnpg, restorePod, backup, helm, values, dataCheck)
        .flatMap(m -> mockingDetails(m).getInvocations().stream())
        .filter(i -> !i.getMethod().getName().equals("toString"))
        .sorted(Comparator.comparingInt(Invocation::getSequenceNumber));
  }

  private static String name(Invocation i) {
    String group = i.getMethod().getDeclaringClass().getSimpleName().replace("Activities", "");
    String name = group + "." + i.getMethod().getName();
    Object arg = i.getArguments().length == 0 ? null : i.getArguments()[0];
    if (arg instanceof HelmActivities.UpgradeRequest u) {
      return name + ":" + u.step();
    }
    if (arg instanceof ValuesActivities.ValuesRequest v) {
      return name + ":" + v.kind();
    }
    if (arg instanceof DataCheckActivities.CensusRequest c) {
      return name + ":" + c.label();
    }
    if (arg instanceof CnpgActivities.HibernationRequest h) {
      return name + ":" + (h.on() ? "on" : "off");
    }
    return name;
  }
}
