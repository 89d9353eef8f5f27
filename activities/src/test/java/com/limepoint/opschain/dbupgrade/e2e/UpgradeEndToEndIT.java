package com.limepoint.opschain.dbupgrade.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.backup.BackupActivitiesImpl;
import com.limepoint.opschain.dbupgrade.cnpg.CnpgActivitiesImpl;
import com.limepoint.opschain.dbupgrade.helm.HelmActivitiesImpl;
import com.limepoint.opschain.dbupgrade.helm.HelmCliReleases;
import com.limepoint.opschain.dbupgrade.helm.HelmHome;
import com.limepoint.opschain.dbupgrade.helm.HelmSlots;
import com.limepoint.opschain.dbupgrade.kube.ClusterActivitiesImpl;
import com.limepoint.opschain.dbupgrade.kube.HostActivitiesImpl;
import com.limepoint.opschain.dbupgrade.model.AbortRequest;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import com.limepoint.opschain.dbupgrade.testkit.BuiltTools;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import com.limepoint.opschain.dbupgrade.testkit.ChartRepository;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.KubeControlPlane;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Sandbox;
import com.limepoint.opschain.dbupgrade.values.ValuesActivitiesImpl;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflowImpl;
import com.limepoint.opschain.dbupgrade.workflows.ManualRestoreWorkflowImpl;
import com.limepoint.opschain.dbupgrade.workflows.QueueOptions;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The whole {@code DbUpgradeWorkflow} with the real activities on the real Kubernetes control plane
 * ({@link RealCluster}: kube-apiserver, its controllers and scheduler, kwok's nodes, CNPG's Cluster
 * controller as {@link com.limepoint.opschain.dbupgrade.testkit.CnpgController} models it), the
 * worker as its ServiceAccount bound to deploy/rbac.yaml and Helm's to deploy/rbac-helm.yaml, the
 * real {@code helm} binary taking {@code opschain/opschain} from a chart repository served over
 * HTTP, and real PostgreSQL, approved the way users do (updates and signals). Prints each
 * scenario's wall time and history size; with -Dhistories.update=true it refreshes the committed
 * histories the replay test reads.
 */
class UpgradeEndToEndIT {
  static final String NS = "opschain";
  static final String WF = "opschain-db-upgrade-opschain";
  static final String HOST_QUEUE = "opschain-db-upgrade-host-e2e";
  static final String COUNT = "SELECT count(*) FROM items";
  static final String SUM =
      "SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM items";

  Path sandbox;
  RealCluster box;
  LocalPostgres legacy;
  LocalPostgres cnpgDb;
  ChartRepository repository;
  HelmCliReleases releases;
  DestructiveAudit.RecordingReleases helm;
  SecretsScan secrets;
  boolean started;
  TestWorkflowEnvironment env;
  WorkflowClient client;
  KubernetesClient k8s;
  Path values;
  Path pvcPgdata;
  String rowsBefore;
  String sumBefore;

  @BeforeEach
  void setUp() throws Exception {
    com.limepoint.opschain.dbupgrade.testkit.Required.postgres();
    com.limepoint.opschain.dbupgrade.testkit.Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    sandbox = Sandbox.create("e2e-");
    legacy = legacy(sandbox.resolve("legacy/data/pgdata"));
    legacy.sql("opschain", "CREATE TABLE items(id int PRIMARY KEY, payload text NOT NULL)");
    legacy.sql(
        "opschain", "INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    secrets = new SecretsScan();
    rowsBefore = legacy.sql("opschain", COUNT);
    sumBefore = legacy.sql("opschain", SUM);

    box = new RealCluster(NS);
    box.installCnpgOperator();
    box.cnpg();
    RealCluster.applyRole(box.client(), NS, "deploy/rbac-helm.yaml", List.of());
    // The worker runs where deploy/worker.yaml puts it: a Deployment in the OpsChain namespace that
    // is not part of the release. Stopping OpsChain must not wait for it.
    com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture.deployment(
        box.client(), NS, "opschain-db-upgrade-worker", 1);
    box.postgresFor(NS, "opschain-db", legacy.port());
    box.bindExec(NS, "restore-from-backup", 0);
    // The CNPG instance's data volume is the restore PVC's pgdata: PostgreSQL runs on it while
    // the instance pod runs (after a manual restore, on the restored data).
    box.cnpgDataAt(NS, "opschain-db", sandbox.resolve("pvc/data/pgdata"));
    values =
        Files.writeString(
            Files.createDirectories(sandbox.resolve("etc")).resolve("values.yaml"),
            "# production values\ndb:\n  # the legacy volume\n  volume:\n    storageClass: null\n    size: \"10Gi\"\n"
                + SecretsScan.VALUES);
    repository = new ChartRepository(sandbox, List.of("2025-10-01", "2026-02-10"));
    // OpsChain as its users installed it: helm install from the repository, by an administrator.
    installOpsChain("2025-10-01");
    pvcPgdata = sandbox.resolve("pvc/data/pgdata");
    releases =
        new HelmCliReleases(
            BuiltTools.helm().toString(),
            box.activityKubeconfig(),
            null,
            new HelmSlots(4),
            new HelmHome(sandbox.resolve("worker-helm"), repository.repositoryConfig()));
    helm = new DestructiveAudit.RecordingReleases(releases);

    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build());
    k8s = box.activityClient();
    if (workers == null) {
      register(
          env.newWorker(DbUpgradeWorkflow.TASK_QUEUE, QueueOptions.of(16, false)),
          env.newWorker(HOST_QUEUE, QueueOptions.of(16, false)),
          null);
      env.start();
    } else {
      workers.accept(this);
    }
    client = env.getWorkflowClient();
    com.limepoint.opschain.dbupgrade.kube.Heartbeats.reportTo(client);
  }

  /**
   * {@code helm install opschain opschain/opschain --version <version> -f values.yaml --wait}, as
   * the cluster's administrator ran it.
   */
  private void installOpsChain(String version) throws Exception {
    var admin = new HelmHome(sandbox.resolve("admin-helm"), repository.repositoryConfig());
    Path kubeconfig = KubeControlPlane.shared().adminKubeconfig();
    for (List<String> args :
        List.of(
            List.of("repo", "update", ChartRepository.NAME),
            List.of(
                "install",
                "opschain",
                ChartRepository.NAME + "/opschain",
                "--version",
                version,
                "--namespace",
                NS,
                "-f",
                values.toString(),
                "--wait",
                "--timeout",
                "120s"))) {
      List<String> argv = new ArrayList<>(List.of(BuiltTools.helm().toString()));
      argv.addAll(args);
      argv.addAll(List.of("--kubeconfig", kubeconfig.toString()));
      Path log = sandbox.resolve("admin-helm-" + args.get(0) + ".log");
      ProcessBuilder pb =
          new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile());
      admin.apply(pb.environment());
      assertThat(pb.start().waitFor()).as(Files.readString(log)).isZero();
    }
  }

  /**
   * The release's revisions as {@code helm history} lists them (Helm keeps the newest ten), with
   * their manifests left out ({@link #manifest}).
   */
  List<ChartReleases.Revision> history() {
    return releases.history(NS, "opschain").stream()
        .map(r ->
            new ChartReleases.Revision(
                r.revision(), r.status(), r.chartVersion(), r.description(), null))
        .toList();
  }

  /** {@code helm get manifest opschain --revision <revision>}. */
  String manifest(int revision) throws Exception {
    List<String> argv =
        new ArrayList<>(
            List.of(
                BuiltTools.helm().toString(),
                "get",
                "manifest",
                "opschain",
                "--namespace",
                NS,
                "--revision",
                Integer.toString(revision),
                "--kubeconfig",
                KubeControlPlane.shared().adminKubeconfig().toString()));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    return out;
  }

  /**
   * Starts the workers instead of the environment's own (KillAnywhereIT's, which it stops and
   * replaces); null: the environment's. Each calls {@link #register}.
   */
  java.util.function.Consumer<UpgradeEndToEndIT> workers;

  /** Stops the {@link #workers}' own workers before the environment closes; null: none. */
  Runnable stopWorkers;

  /** The workflow task timeout of {@link #start}; null: Temporal's default (10 s). */
  java.time.Duration workflowTaskTimeout;

  /**
   * The workflows and activities, as a production worker registers them (its approval policy: alice
   * and bob), on the shared queue and this host's queue; {@code options} null for the workflows'
   * defaults.
   */
  void register(
      Worker shared, Worker host, io.temporal.worker.WorkflowImplementationOptions options) {
    var types = new Class<?>[] {DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class};
    if (options == null) {
      shared.registerWorkflowImplementationTypes(types);
    } else {
      shared.registerWorkflowImplementationTypes(options, types);
    }
    shared.registerActivitiesImplementations(
        new HostActivitiesImpl(
            "e2e-host",
            HOST_QUEUE,
            false,
            List.of("alice", "bob"),
            null,
            null,
            new com.limepoint.opschain.dbupgrade.model.ApprovalPolicy(
                List.of("alice", "bob"), false, false, List.of())),
        new ClusterActivitiesImpl(k8s),
        new CnpgActivitiesImpl(k8s),
        new RestorePodActivitiesImpl(k8s));
    host.registerActivitiesImplementations(
        new BackupActivitiesImpl(k8s, "e2e-host"),
        new com.limepoint.opschain.dbupgrade.backup.DataCheckActivitiesImpl(k8s),
        new HelmActivitiesImpl(helm),
        new ValuesActivitiesImpl());
  }

  /**
   * The benchmark's grown database (see DowntimeBenchmark): each run's legacy database starts as a
   * copy of it. Null in the tests: a fresh one.
   */
  static Path legacyTemplate;

  /** How long a scenario waits for a gate; the benchmark's 4 GiB runs wait longer. */
  static long gateWaitSeconds = 180;

  private static LocalPostgres legacy(Path pgdata) throws IOException {
    if (legacyTemplate == null) {
      return LocalPostgres.init(pgdata, "opschain");
    }
    Files.createDirectories(pgdata.getParent());
    run(List.of("cp", "-a", legacyTemplate.toString(), pgdata.toString()));
    return LocalPostgres.startExisting(pgdata);
  }

  @AfterEach
  void tearDown() throws Exception {
    com.limepoint.opschain.dbupgrade.kube.Heartbeats.reportTo(null);
    List<String> leaks =
        started ? secrets.leaks(client, List.of(WF, WF + "-manual-restore")) : List.of();
    if (box != null) {
      RbacCoverage.recordAudited(box.activityRequests());
    }
    try {
      if (started) {
        everyDestructiveStepTargetedThisRunOrFollowedItsGate();
      }
      assertThat(leaks).as("the values file's secrets in history or logs").isEmpty();
    } finally {
      close();
    }
  }

  /**
   * The audit over what really ran in the scenario (see {@link DestructiveAudit}): every pod
   * command and deleting API call of the activities, and every Helm deploy.
   */
  private void everyDestructiveStepTargetedThisRunOrFollowedItsGate() {
    UpgradeStatus s = client.newWorkflowStub(DbUpgradeWorkflow.class, WF).status();
    DestructiveAudit.Run run =
        new DestructiveAudit.Run(WF, "2026-02-10", pvcPgdata.toString(), s.approvals(), s.steps());
    List<String> violations =
        DestructiveAudit.violations(run, box.podCommands(), box.apiCalls(), helm.deploys);
    long destructive =
        box.podCommands().stream()
            .filter(c -> !DestructiveAudit.targets(DestructiveAudit.unfenced(c.argv())).isEmpty())
            .count();
    System.out.println(
        "e2e audit: "
            + box.podCommands().size()
            + " pod commands ("
            + destructive
            + " destructive), "
            + helm.deploys.size()
            + " helm deploys, "
            + violations.size()
            + " violations");
    assertThat(violations).isEmpty();
  }

  void close() throws Exception {
    if (stopWorkers != null) {
      stopWorkers.run();
    }
    if (env != null) {
      env.close();
    }
    if (k8s != null) {
      k8s.close();
    }
    if (box != null) {
      box.close();
    }
    if (repository != null) {
      repository.close();
    }
    for (LocalPostgres pg : new LocalPostgres[] {cnpgDb, legacy}) {
      if (pg != null) {
        pg.close();
      }
    }
    Sandbox.delete(sandbox);
  }

  @org.junit.jupiter.api.AfterAll
  static void theRoleAllowsEveryCallAndNothingMore() throws IOException {
    if (LocalPostgres.available()) {
      RbacCoverage.check();
    }
  }

  UpgradeRequest request() throws IOException {
    return request(Map.of());
  }

  UpgradeRequest request(Map<String, Object> extra) throws IOException {
    Map<String, Object> fields =
        new java.util.HashMap<>(
            Map.ofEntries(
                Map.entry("namespace", NS),
                Map.entry("release", "opschain"),
                Map.entry("chart", "opschain/opschain"),
                Map.entry("currentVersion", "2025-10-01"),
                Map.entry("targetVersion", "2026-02-10"),
                Map.entry("valuesFile", values.toString()),
                Map.entry("hostBackupDir", sandbox.resolve("host/backup").toString()),
                Map.entry("podBackupDir", sandbox.resolve("pod/tmp/backup").toString()),
                Map.entry("pgdata", pvcPgdata.toString()),
                Map.entry("dataOwner", LocalPostgres.serverOwner()),
                Map.entry("importTimeout", "10m"),
                Map.entry("restoreImage", ClusterInABox.RESTORE_IMAGE),
                Map.entry("gateTimeout", "1h"),
                Map.entry("approvers", List.of("alice", "bob"))));
    fields.putAll(extra);
    return UpgradeRequest.fromJson(fields);
  }

  DbUpgradeWorkflow start() throws IOException {
    return start(request());
  }

  DbUpgradeWorkflow start(UpgradeRequest r) {
    // Only on a cluster that is up: the operator and the legacy database's pod ready.
    box.awaitReady(
        NS,
        List.of(r.dbDeployment() == null ? "opschain-db" : r.dbDeployment()),
        java.time.Duration.ofSeconds(60));
    started = true;
    WorkflowOptions.Builder options =
        WorkflowOptions.newBuilder().setTaskQueue(DbUpgradeWorkflow.TASK_QUEUE).setWorkflowId(WF);
    if (workflowTaskTimeout != null) {
      options.setWorkflowTaskTimeout(workflowTaskTimeout);
    }
    DbUpgradeWorkflow wf = client.newWorkflowStub(DbUpgradeWorkflow.class, options.build());
    WorkflowClient.start(wf::run, r);
    return wf;
  }

  /**
   * What CNPG's import does on the harness ({@link LocalPostgres#importFrom}: pg_dump -Fd to disk,
   * pg_restore by section, ANALYZE) into the new cluster's database, which its instance pod {@code
   * opschain-db-1} then serves; {@code after} runs on the imported database.
   */
  void importsInto(java.util.function.Consumer<LocalPostgres> after) {
    box.onImport(() -> {
      try {
        long t0 = System.nanoTime();
        cnpgDb = LocalPostgres.init(sandbox.resolve("cnpg/data/pgdata"), "opschain");
        long t1 = System.nanoTime();
        cnpgDb.importFrom(legacy, "opschain");
        org.slf4j.LoggerFactory.getLogger(UpgradeEndToEndIT.class)
            .info(
                "harness import: initdb and start {} ms, CNPG's dump, restore and analyze {} ms",
                (t1 - t0) / 1_000_000,
                (System.nanoTime() - t1) / 1_000_000);
        after.accept(cnpgDb);
        box.cnpgInstanceServes(NS, "opschain-db-1", cnpgDb.port());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  @Test
  void theAutomaticPathKeepsEveryRowAndEndsWithoutRecoverySettings() throws Exception {
    importsInto(db -> {});
    long t0 = System.nanoTime();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    UpgradeStatus atBackup = awaitGate(wf, Gate.BACKUP_VERIFIED);
    assertThat(atBackup.openGate().evidence().backup().passesVerification()).isTrue();
    // The backup was restored once, and its data counted equal to the stopped source's.
    assertThat(atBackup.openGate().evidence().details())
        .anyMatch(d -> d.startsWith("source census: source: 1 tables, 20000 rows, 1 checksummed"))
        .anyMatch(d -> d.equals("restored once: 1 tables, counts and checksums equal to source"));
    assertThat(box.client().pods().inNamespace(NS).withName("opschain-db-rehearsal").get())
        .as("the rehearsal's pod is gone")
        .isNull();
    assertThat(box.scratchPodsLeft()).isEmpty();
    assertThat(atBackup.openGate().evidence().valuesDiff())
        .contains("+ db.recoveryMode: true", "+ db.cnpg.storage.size: 10Gi (from db.volume.size)")
        .doesNotContain("# production values");
    approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
    assertThat(awaitGate(wf, Gate.SERVICES_VERIFIED).openGate().evidence().details())
        .contains(
            "parity: cnpg: 1 tables, 20000 rows, 1 checksummed; 1 tables, counts and"
                + " checksums equal to source");
    approveByUpdate(wf, Gate.SERVICES_VERIFIED, "alice");
    approveBySignal(wf, Gate.FINALIZE, "bob");
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    report("automatic path", t0);
    printDataProofTimes(report);
    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
    assertThat(cnpgDb.sql("opschain", COUNT)).isEqualTo(rowsBefore).isEqualTo("20000");
    assertThat(cnpgDb.sql("opschain", SUM)).isEqualTo(sumBefore);
    ChartReleases.Revision last = last();
    assertThat(last.status()).isEqualTo("deployed");
    assertThat(last.description()).contains(WF + "/").endsWith("/finalizeUpgrade");
    assertThat(manifest(last.revision()))
        .doesNotContain("bootstrap", "image: limepoint/opschain-db");
    assertThat(box.client().apps().deployments().inNamespace(NS).withName("opschain-db").get())
        .isNull();
    for (String s : List.of("opschain-api", "opschain-api-worker", "opschain-log-aggregator")) {
      assertThat(box.restarts(NS, s)).as(s).isEqualTo(1);
    }
    // Long steps reported milestones to the status query: a few signals, not one per heartbeat.
    long progress =
        client.fetchHistory(WF).getEvents().stream()
            .filter(e ->
                e.hasWorkflowExecutionSignaledEventAttributes()
                    && e.getWorkflowExecutionSignaledEventAttributes()
                        .getSignalName()
                        .equals("progress"))
            .count();
    System.out.println("e2e automatic path: " + progress + " progress signals");
    assertThat(progress).isBetween(1L, 40L);
    export("e2e-automatic", WF);
  }

  /**
   * The import Job's first pod fails and its retry takes longer than Helm's timeout (scaled: 2 s
   * stand for the 40 minutes). With {@code --wait --atomic} Helm would time out while OpsChain's
   * services wait for the importing database and roll back, deleting the cluster mid-import.
   */
  @Test
  void aRetriedImportLongerThanHelmsTimeoutIsNotRolledBackAndKeepsEveryRow() throws Exception {
    helm.capTimeout(2);
    box.importFailsOnce("FATAL: terminating connection due to administrator command");
    box.onImport(() -> {
      try {
        Thread.sleep(5_000);
        cnpgDb = LocalPostgres.init(sandbox.resolve("cnpg/data/pgdata"), "opschain");
        cnpgDb.importFrom(legacy, "opschain");
        box.cnpgInstanceServes(NS, "opschain-db-1", cnpgDb.port());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    });
    long t0 = System.nanoTime();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
    approveByUpdate(wf, Gate.SERVICES_VERIFIED, "alice");
    approveBySignal(wf, Gate.FINALIZE, "bob");
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    report("retried import longer than Helm's timeout", t0);
    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
    assertThat(cnpgDb.sql("opschain", COUNT)).isEqualTo(rowsBefore).isEqualTo("20000");
    assertThat(cnpgDb.sql("opschain", SUM)).isEqualTo(sumBefore);
    assertThat(history()).extracting(ChartReleases.Revision::status).doesNotContain("failed");
    assertThat(history())
        .extracting(ChartReleases.Revision::description)
        .noneMatch(d -> d.startsWith("Rollback to"));
    // The Job's first pod failed and Kubernetes' Job controller ran a second, which imported.
    assertThat(box.cnpg().importPodEnds()).containsExactly("Failed", "Succeeded");
  }

  /**
   * The final deploy fails on every attempt (Helm cannot reach the API server): past the point of
   * no return the run does not end; it stops at RETRY_STEP, and once the API answers again,
   * approving it finishes the upgrade.
   */
  @Test
  void aStopAfterThePointOfNoReturnIsContinuedToCompletedWithEveryRow() throws Exception {
    importsInto(db -> {});
    helm.failing = "finalizeUpgrade";
    long t0 = System.nanoTime();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
    approveByUpdate(wf, Gate.SERVICES_VERIFIED, "alice");
    approveBySignal(wf, Gate.FINALIZE, "bob");
    UpgradeStatus stopped = awaitGate(wf, Gate.RETRY_STEP);
    assertThat(stopped.openGate().evidence().summary())
        .contains("finalizeUpgrade failed after the point of no return", "connection refused");
    assertThat(box.client().apps().deployments().inNamespace(NS).withName("opschain-db").get())
        .as("the legacy database is still there")
        .isNotNull();
    helm.failing = null;
    approveByUpdate(wf, Gate.RETRY_STEP, "alice");
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    report("a failed final deploy continued at RETRY_STEP", t0);
    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
    assertThat(cnpgDb.sql("opschain", COUNT)).isEqualTo(rowsBefore);
    assertThat(cnpgDb.sql("opschain", SUM)).isEqualTo(sumBefore);
    assertThat(box.client().apps().deployments().inNamespace(NS).withName("opschain-db").get())
        .isNull();
    assertThat(history())
        .filteredOn(r -> r.description().endsWith("/finalizeUpgrade"))
        .extracting(ChartReleases.Revision::status)
        .containsExactly("deployed");
  }

  /**
   * The backup's pg_wal.tar.gz holds no WAL (a valid, empty archive: gzip -t and tar -t pass). The
   * rehearsal's PostgreSQL cannot reach a consistent state: BACKUP_VERIFIED says so and refuses
   * approval; rejecting puts OpsChain back with the legacy data untouched.
   */
  @Test
  void aBackupWithoutItsWalFailsTheRehearsalAndKeepsBackupVerifiedClosed() throws Exception {
    // The runbook's procedure (written in the pod, gzip), whose pg_wal.tar.gz is replaced.
    box.afterExec("pg_basebackup", argv -> zeroedWalArchive(argv.get(argv.indexOf("-D") + 1)));
    DbUpgradeWorkflow wf = start(request(Map.of("backupMode", "pod", "backupFormat", "gzip")));
    approveByUpdate(wf, Gate.START, "alice");
    UpgradeStatus at = awaitGate(wf, Gate.BACKUP_VERIFIED);

    assertThat(at.openGate().evidence().backup().passesVerification()).isTrue();
    assertThat(at.openGate().evidence().details())
        .anyMatch(d -> d.startsWith("restore rehearsal FAILED: PostgreSQL did not start"));
    assertThat(String.join("\n", at.openGate().evidence().details()))
        .contains("did not start", "Way out: reject BACKUP_VERIFIED");
    assertThatThrownBy(() -> wf.approveGate(new GateDecision("BACKUP_VERIFIED", "bob", "ok")))
        .hasStackTraceContaining("cannot be approved: PostgreSQL did not start");
    wf.reject(new GateDecision("BACKUP_VERIFIED", "bob", "the backup does not restore"));
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("back in service on 2025-10-01");
    assertLegacyUntouched();
  }

  /**
   * The import silently loses the rows of a table. The parity check names it; the manual restore is
   * offered, and once it ran the data is equal and the upgrade completes.
   */
  @Test
  void anImportThatDropsATablesRowsIsCaughtAndTheManualRestoreOffered() throws Exception {
    importsInto(db -> sql(db, "DELETE FROM items WHERE id > 19990"));
    LocalPostgres.init(pvcPgdata, "opschain").close();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
    UpgradeStatus at = awaitGate(wf, Gate.MANUAL_RESTORE);

    assertThat(at.openGate().evidence().summary())
        .contains("differs from the source", "public.items: 19990 rows, 20000 in source");
    assertThat(box.client().apps().deployments().inNamespace(NS).withName("opschain-db").get())
        .as("the legacy database is still there")
        .isNotNull();
    assertLegacyUntouched();
    approveByUpdate(wf, Gate.MANUAL_RESTORE, "alice");
    approveBySignal(wf, Gate.SERVICES_VERIFIED, "bob");
    approveByUpdate(wf, Gate.FINALIZE, "alice");
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
    assertThat(box.cnpgInstance(NS, "opschain-db").sql("opschain", COUNT)).isEqualTo(rowsBefore);
  }

  /** A restore image of another major: the rehearsal says so before it restores anything. */
  @Test
  void aRestoreImageOfAnotherMajorFailsTheRehearsalAndSaysWhatToSet() throws Exception {
    DbUpgradeWorkflow wf = start(request(Map.of("restoreImage", "postgres:16.4")));
    approveByUpdate(wf, Gate.START, "alice");
    UpgradeStatus at = awaitGate(wf, Gate.BACKUP_VERIFIED);

    assertThat(String.join("\n", at.openGate().evidence().details()))
        .contains(
            "restore image postgres:16.4 runs PostgreSQL 16; the backup is PostgreSQL 15",
            "set restoreImage to a PostgreSQL 15 image");
    wf.reject(new GateDecision("BACKUP_VERIFIED", "bob", "wrong image"));
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(box.scratchPodsLeft()).isEmpty();
    assertLegacyUntouched();
  }

  private void assertLegacyUntouched() throws IOException {
    assertThat(legacy.sql("opschain", COUNT)).isEqualTo(rowsBefore);
    assertThat(legacy.sql("opschain", SUM)).isEqualTo(sumBefore);
    assertThat(box.client().pods().inNamespace(NS).withName("opschain-db-rehearsal").get())
        .isNull();
  }

  private static void sql(LocalPostgres db, String statement) {
    try {
      db.sql("opschain", statement);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Replaces a backup's WAL archive by one with the same segment names and sizes, all zeros, and
   * its {@code archive_status/} directory: gzip -t and tar -t pass and the segments are counted,
   * but PostgreSQL finds no valid record in them.
   */
  private static void zeroedWalArchive(String backupDir) {
    try {
      Path wal = Path.of(backupDir, "pg_wal.tar.gz");
      Path zeroed = Files.createTempDirectory("wal-");
      Files.createDirectory(zeroed.resolve("archive_status"));
      List<String> segments =
          run(List.of("tar", "-tzf", wal.toString()))
              .lines()
              .map(n -> n.startsWith("./") ? n.substring(2) : n)
              .filter(n -> n.matches("[0-9A-F]{24}"))
              .toList();
      assertThat(segments).isNotEmpty();
      for (String n : segments) {
        Files.write(zeroed.resolve(n), new byte[16 << 20]);
      }
      List<String> tar = new ArrayList<>(List.of("tar", "-czf", wal.toString(), "-C"));
      tar.add(zeroed.toString());
      tar.add("archive_status");
      tar.addAll(segments);
      run(tar);
      Sandbox.deleteTree(zeroed);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String run(List<String> argv) throws IOException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (p.waitFor() != 0) {
        throw new IllegalStateException(argv.get(0) + " exited " + p.exitValue() + ": " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    return out;
  }

  /** The data checks' times, from the report's steps, beside the run's. */
  private static void printDataProofTimes(UpgradeReport report) {
    for (var s : report.steps()) {
      if (List.of("sourceCensus", "rehearseRestore", "checkParity").contains(s.name())
          && s.startedAt() != null
          && s.endedAt() != null) {
        System.out.printf(
            "e2e data proof: %s took %d ms%n",
            s.name(),
            java.time.Duration.between(
                    java.time.Instant.parse(s.startedAt()), java.time.Instant.parse(s.endedAt()))
                .toMillis());
      }
    }
  }

  /** The dry run plans every step and records no values content (the scan runs after it). */
  @Test
  void theDryRunPlansWithoutChangingAnythingOrRecordingValuesContent() throws Exception {
    start(request(Map.of("dryRun", true)));
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.PLANNED);
    assertThat(report.plan())
        .filteredOn(c -> c.step().equals("prepareMigrationValues"))
        .singleElement()
        .satisfies(c -> assertThat(c.change()).contains("+ db.recoveryMode: true"));
    // What the data checks will create and remove is in the plan.
    assertThat(report.plan())
        .filteredOn(c -> c.step().equals("rehearseRestore"))
        .singleElement()
        .satisfies(c ->
            assertThat(c.change())
                .contains("create pod opschain-db-rehearsal (" + ClusterInABox.RESTORE_IMAGE)
                .contains("delete the pod and its emptyDir"));
    assertThat(report.plan()).extracting(c -> c.step()).contains("sourceCensus", "checkParity");
    assertThat(box.client().pods().inNamespace(NS).list().getItems())
        .noneMatch(p -> p.getMetadata().getName().endsWith("-rehearsal"));
    assertThat(history()).hasSize(1);
  }

  @Test
  void aFailedImportIsRestoredByHandBehindItsGate() throws Exception {
    box.importFails("FATAL: could not import database opschain");
    LocalPostgres.init(pvcPgdata, "opschain").close();
    long t0 = System.nanoTime();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
    UpgradeStatus atRestore = awaitGate(wf, Gate.MANUAL_RESTORE);
    assertThat(atRestore.openGate().evidence().summary())
        .contains("ImportFailed", "FATAL: could not import");
    approveByUpdate(wf, Gate.MANUAL_RESTORE, "alice");
    approveBySignal(wf, Gate.SERVICES_VERIFIED, "bob");
    approveByUpdate(wf, Gate.FINALIZE, "alice");
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    report("import failure + manual restore", t0);
    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
    assertThat(report.manualRestore()).isTrue();
    assertThat(report.steps())
        .filteredOn(s -> s.name().equals("manualRestore"))
        .singleElement()
        .satisfies(s -> assertThat(s.summary()).contains("in production"));
    // CNPG's instance runs on the restored volume (the harness started PostgreSQL on it).
    LocalPostgres restored = box.cnpgInstance(NS, "opschain-db");
    assertThat(restored).isNotNull();
    assertThat(restored.sql("opschain", COUNT)).isEqualTo(rowsBefore);
    assertThat(restored.sql("opschain", SUM)).isEqualTo(sumBefore);
    assertThat(report.steps())
        .filteredOn(s -> s.name().equals("checkRestoredParity"))
        .singleElement()
        .satisfies(s -> assertThat(s.summary()).contains("counts and checksums equal to source"));
    assertThat(box.client().pods().inNamespace(NS).withName("restore-from-backup").get()).isNull();
    export("e2e-manual-restore-parent", WF);
    export("e2e-manual-restore-child", WF + "-manual-restore");
  }

  @Test
  void theManualRestoreCanHibernateByAnnotation() throws Exception {
    box.importFails("FATAL: could not import database opschain");
    LocalPostgres.init(pvcPgdata, "opschain").close();
    long t0 = System.nanoTime();
    // skipGates is for the dev-mode worker only: this production-like worker needs each gate.
    DbUpgradeWorkflow wf = start(request(Map.of("hibernateBy", "annotation")));
    for (Gate g :
        List.of(
            Gate.START,
            Gate.BACKUP_VERIFIED,
            Gate.MANUAL_RESTORE,
            Gate.SERVICES_VERIFIED,
            Gate.FINALIZE)) {
      approveByUpdate(wf, g, "alice");
    }
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    report("manual restore, hibernation by annotation", t0);
    assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
    assertThat(report.manualRestore()).isTrue();
    assertThat(box.cnpgInstance(NS, "opschain-db").sql("opschain", COUNT)).isEqualTo(rowsBefore);
    assertThat(box.activityRequests())
        .anyMatch(r ->
            r.startsWith(
                "patch /apis/postgresql.cnpg.io/v1/namespaces/opschain/clusters/opschain-db"));
    assertThat(wf.status().phase().name()).isEqualTo("COMPLETED");
  }

  @Test
  void anAbortAtTheBackupGatePutsOpsChainBackWithTheDataUntouched() throws Exception {
    long t0 = System.nanoTime();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    awaitGate(wf, Gate.BACKUP_VERIFIED);
    wf.abort(new AbortRequest("alice", "maintenance window closed"));
    UpgradeReport report = client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class);

    report("abort at BACKUP_VERIFIED", t0);
    assertThat(report.outcome()).isEqualTo(Outcome.ABORTED);
    assertThat(report.reason()).contains("aborted by alice", "back in service on 2025-10-01");
    ChartReleases.Revision last = last();
    assertThat(last.chartVersion()).isEqualTo("2025-10-01");
    assertThat(last.description()).endsWith("/putBackInService");
    assertThat(box.client().apps().deployments().inNamespace(NS).list().getItems())
        .allSatisfy(
            d -> assertThat(d.getSpec().getReplicas()).as(d.getMetadata().getName()).isEqualTo(1));
    assertThat(
            box.client()
                .genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster")
                .inNamespace(NS)
                .list()
                .getItems())
        .isEmpty();
    assertThat(legacy.sql("opschain", COUNT)).isEqualTo(rowsBefore);
    assertThat(legacy.sql("opschain", SUM)).isEqualTo(sumBefore);
    export("e2e-abort", WF);
  }

  @Test
  void aPodBackupDirInTheDataDirectoryIsRefusedBeforeStartAndEveryRowStays() throws Exception {
    // The plausible mistake: the backup "on the volume", in the live database's PGDATA, or in a
    // directory that holds it. Preflight refuses both before the START gate, naming the data
    // directory the server reports (SHOW data_directory); nothing is changed.
    String dataDir = legacy.sql("postgres", "SHOW data_directory");
    for (String wrong : List.of(dataDir, legacy.pgdata().getParent().toString())) {
      DbUpgradeWorkflow wf = start(request(Map.of("podBackupDir", wrong)));
      WorkflowFailedException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              WorkflowFailedException.class,
              () -> client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class));
      io.temporal.failure.ApplicationFailure f = rootFailure(e);
      System.out.println("e2e refused podBackupDir " + wrong + ": " + f.getOriginalMessage());
      assertThat(f.getType()).isEqualTo("PreflightFailed");
      assertThat(f.getOriginalMessage())
          .contains("podBackupDir " + wrong, "data directory " + dataDir, "nothing was changed");
      assertThat(wf.status().approvals()).isEmpty();
      assertThat(wf.status().steps())
          .filteredOn(st -> st.name().equals("gate START"))
          .allMatch(st -> st.startedAt() == null);
    }
    assertThat(box.activityMutations())
        .filteredOn(m -> !m.contains("/exec?"))
        .as("no object was changed")
        .isEmpty();
    assertThat(legacy.sql("opschain", COUNT)).isEqualTo(rowsBefore);
    assertThat(legacy.sql("opschain", SUM)).isEqualTo(sumBefore);
    assertThat(legacy.pgdata().resolve("PG_VERSION")).exists();
  }

  @Test
  void aCompensationOverADatabaseThatDoesNotAnswerEndsFailedNotBackInService() throws Exception {
    long t0 = System.nanoTime();
    DbUpgradeWorkflow wf = start();
    approveByUpdate(wf, Gate.START, "alice");
    awaitGate(wf, Gate.BACKUP_VERIFIED);
    // The database dies while the gate is open; the rejection puts OpsChain back, and the check
    // that follows must notice that nothing answers.
    legacy.close();
    wf.reject(new GateDecision("BACKUP_VERIFIED", "bob", "not tonight"));
    WorkflowFailedException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            WorkflowFailedException.class,
            () -> client.newUntypedWorkflowStub(WF).getResult(UpgradeReport.class));

    report("compensation over a dead database", t0);
    io.temporal.failure.ApplicationFailure f = rootFailure(e);
    assertThat(f.getType()).isEqualTo("DatabaseNotInService");
    assertThat(f.getOriginalMessage())
        .contains("NOT back in service", "does not answer a query", "verified backup is at")
        .doesNotContain("OpsChain is back in service");
    assertThat(wf.status().phase().name()).isEqualTo("FAILED");
    assertThat(last().description()).endsWith("/putBackInService");
  }

  private static io.temporal.failure.ApplicationFailure rootFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.temporal.failure.ApplicationFailure af) {
        return af;
      }
    }
    throw new AssertionError("no ApplicationFailure in " + e);
  }

  private ChartReleases.Revision last() {
    List<ChartReleases.Revision> h = history();
    return h.get(h.size() - 1);
  }

  private void report(String scenario, long t0) {
    System.out.printf(
        "e2e %s: %.1f s wall, %d history events%n",
        scenario, (System.nanoTime() - t0) / 1e9, client.fetchHistory(WF).getEvents().size());
  }

  static UpgradeStatus awaitGate(DbUpgradeWorkflow wf, Gate gate) throws InterruptedException {
    long deadline = System.nanoTime() + gateWaitSeconds * 1_000_000_000L;
    UpgradeStatus s = null;
    while (System.nanoTime() < deadline) {
      s = wf.status();
      if (s.openGate() != null && s.openGate().gate() == gate) {
        return s;
      }
      if (s.phase().name().matches("COMPLETED|ABORTED|FAILED")) {
        break;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("gate " + gate + " did not open; status: " + s);
  }

  static void approveByUpdate(DbUpgradeWorkflow wf, Gate gate, String by)
      throws InterruptedException {
    awaitGate(wf, gate);
    wf.approveGate(new GateDecision(gate.name(), by, "checked"));
  }

  static void approveBySignal(DbUpgradeWorkflow wf, Gate gate, String by)
      throws InterruptedException {
    awaitGate(wf, gate);
    wf.approve(new GateDecision(gate.name(), by, "checked"));
  }

  private void export(String name, String workflowId) throws IOException {
    String json = client.fetchHistory(workflowId).toJson(true);
    Path out = Path.of("target", "histories", name + ".json");
    Files.createDirectories(out.getParent());
    Files.writeString(out, json);
    if (Boolean.getBoolean("histories.update")) {
      Files.writeString(
          Path.of("..", "workflows", "src", "test", "resources", "histories", name + ".json"),
          json);
    }
  }

  @SuppressWarnings("unused")
  private static final List<Object> USED = new ArrayList<>();
}
