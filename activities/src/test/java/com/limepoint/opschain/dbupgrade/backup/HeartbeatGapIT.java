package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.helm.HelmActivitiesImpl;
import com.limepoint.opschain.dbupgrade.helm.HelmCall;
import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.kube.SameRun;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import io.temporal.activity.ActivityOptions;
import io.temporal.testing.TestActivityEnvironment;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every long activity heartbeats at least every 10 s while one of its calls blocks: each is run
 * with one blocking call made slower than that (a pod command that starts 11 s late, a host disk
 * that reads 1 MiB per 2.5 s, a host command that sleeps 11 s first, a Helm upgrade of 11 s), and
 * the largest gap between heartbeats, from the start to the end of the call, is measured. The gaps
 * are those between the code's own heartbeat calls (seen through {@link SameRun}'s context, before
 * the SDK throttles what it sends), with the production heartbeat timeout of 45 s.
 */
class HeartbeatGapIT {
  static final String NS = "opschain";
  static final Duration SLOW = Duration.ofSeconds(11);
  static final long MAX_GAP_MILLIS = 10_000;

  Path sandbox;
  DbPodFixture fixture;
  RealCluster box;
  LocalPostgres db;
  TestActivityEnvironment env;
  final List<Long> beats = new CopyOnWriteArrayList<>();
  final Map<String, Long> gaps = new LinkedHashMap<>();

  @BeforeEach
  void setUp() throws Exception {
    fixture = DbPodFixture.start("gaps-", 50_000, 0);
    sandbox = fixture.sandbox();
    box = fixture.box();
    db = fixture.db();
    env = SameRun.environment("heartbeat-gaps", 1, details -> beats.add(System.nanoTime()));
    env.registerActivitiesImplementations(
        new BackupActivitiesImpl(box.activityClient(), "test-host"),
        new RestorePodActivitiesImpl(box.activityClient()),
        new com.limepoint.opschain.dbupgrade.kube.ClusterActivitiesImpl(box.activityClient()),
        new HelmActivitiesImpl(new SlowReleases()),
        new DataCheckActivitiesImpl(box.activityClient()));
  }

  @AfterEach
  void tearDown() throws Exception {
    HostFiles.reads = UnaryOperator.identity();
    HostFiles.commands = UnaryOperator.identity();
    if (env != null) {
      env.close();
    }
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void everyLongActivityHeartbeatsWhileItsSlowCallsBlock() throws Exception {
    ActivityOptions options =
        ActivityOptions.newBuilder()
            .setStartToCloseTimeout(Duration.ofMinutes(10))
            .setHeartbeatTimeout(Duration.ofSeconds(45))
            .build();
    BackupActivities backup = env.newActivityStub(BackupActivities.class, options);
    RestorePodActivities restore = env.newActivityStub(RestorePodActivities.class, options);
    HelmActivities helm = env.newActivityStub(HelmActivities.class, options);
    String podBase = sandbox.resolve("pod/tmp/backup").toString();
    String hostDir = sandbox.resolve("host/backup").toString();

    box.slowExecOnce("pg_basebackup", SLOW);
    box.slowExecOnce("sha256sum", SLOW);
    BackupActivities.PodBackup taken =
        measure(
            "takeBackup (pg_basebackup and the pod's sha256sum each 11 s late)",
            () ->
                backup.takeBackup(
                    new BackupActivities.BackupRequest(
                        NS, "opschain-db", podBase, "300M", "opschain", "unused")));

    box.slowExecOnce("dd if=", SLOW);
    BackupEvidence copied =
        measure(
            "copyBackupOut (the pod's dd 11 s late)",
            () ->
                backup.copyBackupOut(
                    new BackupActivities.CopyRequest(NS, taken.pod(), taken.podDir(), hostDir)));

    // Without the copy's records (a copy by an older worker), verifyBackup reads each archive
    // once, on a slow disk.
    try (var records = java.nio.file.Files.list(java.nio.file.Path.of(hostDir))) {
      for (var r : records.filter(x -> x.toString().endsWith(".check")).toList()) {
        java.nio.file.Files.delete(r);
      }
    }
    HostFiles.reads = in -> slowDisk(in);
    HostFiles.commands = sleepFirst(SLOW);
    BackupEvidence verified =
        measure(
            "verifyBackup without the copy's records (host disk 2.5 s per MiB)",
            () -> backup.verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files())));
    HostFiles.reads = UnaryOperator.identity();
    HostFiles.commands = UnaryOperator.identity();
    assertThat(verified.passesVerification()).isTrue();
    assertThat(verified.checks()).anyMatch(c -> c.startsWith("read again here"));

    var checks =
        env.newActivityStub(
            com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.class, options);
    box.slowExecOnce("query_to_xml", SLOW);
    measure(
        "census (psql 11 s late)",
        () ->
            checks.census(
                new com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.CensusRequest(
                    NS,
                    com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.Source
                        .LEGACY_DEPLOYMENT,
                    "opschain-db",
                    "opschain",
                    "opschain",
                    hostDir,
                    "source",
                    null)));
    box.slowExecOnce("pg_ctl", SLOW);
    String owner = LocalPostgres.serverOwner();
    var rehearsal =
        measure(
            "rehearseRestore (pg_ctl start 11 s late)",
            () ->
                checks.rehearseRestore(
                    new com.limepoint.opschain.dbupgrade.activities.DataCheckActivities
                        .RehearsalRequest(
                        NS,
                        "opschain-db-rehearsal",
                        ClusterInABox.RESTORE_IMAGE,
                        owner,
                        "opschain",
                        "opschain",
                        hostDir,
                        verified.files(),
                        1L << 30,
                        300)));
    assertThat(rehearsal.passed()).as(String.valueOf(rehearsal.problem())).isTrue();

    Path pgdata = sandbox.resolve("pvc/data/pgdata");
    LocalPostgres.init(pgdata, "opschain").close();
    var podReq =
        new RestorePodActivities.RestorePodRequest(
            NS,
            "restore-from-backup",
            "limepoint/opschain-db:17.5",
            "opschain-db-1",
            pgdata.toString(),
            false);
    restore.createRestorePod(podReq);
    String uploadBase = sandbox.resolve("restorepod/tmp").toString();
    box.slowExecOnce("sha256sum", SLOW);
    measure(
        "uploadBackup (the pod's sha256sum 11 s late)",
        () ->
            backup.uploadBackup(
                new BackupActivities.UploadRequest(
                    NS, "restore-from-backup", hostDir, uploadBase, verified.files())));
    var pg =
        new RestorePodActivities.PgdataRequest(
            NS, "restore-from-backup", pgdata.toString(), uploadBase, LocalPostgres.serverOwner());
    restore.saveConfFiles(pg);
    box.slowExecOnce("tar -xzf", SLOW);
    measure("restorePgdata (tar -xzf 11 s late)", () -> restore.restorePgdata(pg));
    box.slowExecOnce("pg_controldata", SLOW);
    measure("checkControlData (pg_controldata 11 s late)", () -> restore.checkControlData(pg));
    measure(
        "helm upgrade (Helm takes 11 s)",
        () ->
            helm.upgrade(
                new HelmActivities.UpgradeRequest(
                    NS,
                    "opschain",
                    "opschain/opschain",
                    "2026-02-10",
                    List.of(),
                    Map.of(),
                    "upgradeRelease",
                    600,
                    false,
                    false)));

    var cluster =
        env.newActivityStub(
            com.limepoint.opschain.dbupgrade.activities.ClusterActivities.class, options);
    OpsChainFixture.deployment(box.client(), NS, "opschain-api", 1);
    Thread.ofVirtual()
        .start(() -> {
          try {
            Thread.sleep(SLOW.toMillis());
          } catch (InterruptedException e) {
            return;
          }
          box.client().apps().deployments().inNamespace(NS).withName("opschain-api").delete();
        });
    measure(
        "awaitDeploymentGone (the deployment goes after 11 s)",
        () ->
            cluster.awaitDeploymentGone(
                new com.limepoint.opschain.dbupgrade.activities.WaitRequest(
                    NS, List.of("opschain-api"), 60)));

    gaps.forEach((what, gap) -> System.out.printf("heartbeat gap: %5d ms  %s%n", gap, what));
    assertThat(gaps)
        .hasSize(10)
        .allSatisfy((what, gap) -> assertThat(gap).as(what).isLessThanOrEqualTo(MAX_GAP_MILLIS));
  }

  /** Runs one activity call and records the largest gap between heartbeats, start and end. */
  private <T> T measure(String what, Supplier<T> call) {
    beats.clear();
    long start = System.nanoTime();
    T result = call.get();
    long end = System.nanoTime();
    List<Long> times = new ArrayList<>();
    times.add(start);
    times.addAll(beats);
    times.add(end);
    long max = 0;
    for (int i = 1; i < times.size(); i++) {
      max = Math.max(max, times.get(i) - times.get(i - 1));
    }
    gaps.put(what, max / 1_000_000);
    return result;
  }

  /** A disk that takes 2.5 s per read (the hash reads 1 MiB at a time). */
  private static InputStream slowDisk(InputStream in) {
    return new FilterInputStream(in) {
      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        try {
          Thread.sleep(2_500);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
        return super.read(b, off, len);
      }
    };
  }

  /** The first host command sleeps {@code delay} before it runs; the others run at once. */
  private static UnaryOperator<List<String>> sleepFirst(Duration delay) {
    AtomicBoolean first = new AtomicBoolean(true);
    return argv -> {
      if (!first.getAndSet(false)) {
        return argv;
      }
      List<String> slow =
          new ArrayList<>(
              List.of(
                  "bash",
                  "-c",
                  "sleep " + delay.toSeconds() + "; exec \"$@\"",
                  "slow-host-command"));
      slow.addAll(argv);
      return slow;
    };
  }

  /** A Helm whose upgrade takes 11 s, as one waiting for a rollout does. */
  private static final class SlowReleases implements HelmReleases {
    @Override
    public List<Revision> history(String namespace, String release) {
      return List.of(new Revision(1, "deployed", "2025-10-01", "Install complete"));
    }

    @Override
    public Revision upgrade(HelmCall call) {
      try {
        Thread.sleep(SLOW.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return new Revision(2, "deployed", call.version(), call.description());
    }

    @Override
    public Revision rollback(String namespace, String release, int toRevision, String description) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String render(HelmCall call) {
      return "";
    }
  }
}
