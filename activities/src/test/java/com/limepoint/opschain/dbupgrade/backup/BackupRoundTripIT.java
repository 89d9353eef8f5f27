package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The data-safety promise end to end on real processes: 100k rows in a real PostgreSQL, the real
 * pg_basebackup through the fabric8 client's exec, a copy out whose stream is cut at 50 % with exit
 * 0, verification, the manual restore into a new pgdata, pg_controldata, and a server started on
 * the result that has every row.
 */
class BackupRoundTripIT {
  static final String NS = "opschain";
  static final String WORKFLOW_ID = "opschain-db-upgrade-opschain";

  Path sandbox;
  DbPodFixture fixture;
  RealCluster box;
  LocalPostgres db;
  TestActivityEnvironment env;
  final List<Heartbeats.Checkpoint> heartbeats = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    fixture = DbPodFixture.start("roundtrip-", 100_000, 64);
    sandbox = fixture.sandbox();
    box = fixture.box();
    db = fixture.db();
    env = com.limepoint.opschain.dbupgrade.kube.SameRun.environment("run-1", 1);
    env.registerActivitiesImplementations(
        new BackupActivitiesImpl(box.activityClient(), "test-host"),
        new RestorePodActivitiesImpl(box.activityClient()));
    env.setActivityHeartbeatListener(Heartbeats.Checkpoint.class, heartbeats::add);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (env != null) {
      env.close();
    }
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void backupCopyVerifyAndManualRestoreKeepEveryRow() throws Exception {
    String before = DbPodFixture.rowsAndChecksum(db);
    assertThat(before).startsWith("100000 ");
    // The environment's own 1 s heartbeat timeout: heartbeats go out every 0.8 s, so the listener
    // sees pg_basebackup's lines (with ActivityStubs' 45 s they would be throttled to one).
    BackupActivities backup = env.newActivityStub(BackupActivities.class);
    String podDir = sandbox.resolve("pod/tmp/backup").toString();
    Files.createDirectories(sandbox.resolve("pod/tmp"));

    // pg_basebackup in the pod, twice: the second call reuses the completed backup.
    BackupActivities.BackupRequest req =
        new BackupActivities.BackupRequest(
            NS, "opschain-db", podDir, "300M", "opschain", WORKFLOW_ID);
    BackupActivities.PodBackup taken = backup.takeBackup(req);
    BackupActivities.PodBackup again = backup.takeBackup(req);
    assertThat(taken.reused()).isFalse();
    assertThat(again.reused()).isTrue();
    assertThat(again.files()).isEqualTo(taken.files());
    assertThat(box.podCommands()).filteredOn(c -> c.argv().contains("pg_basebackup")).hasSize(1);
    assertThat(taken.files()).extracting(BackupFile::name).contains("base.tar.gz", "pg_wal.tar.gz");
    // pg_basebackup's -P/-vvv lines reached Temporal in the heartbeats' log tail (sent from the
    // activity's thread; the SDK throttles them, so which ones arrive depends on timing, not that
    // some do).
    assertThat(heartbeats)
        .filteredOn(h -> h.step().equals("takeBackup"))
        .anyMatch(h -> h.log().stream().anyMatch(l -> l.startsWith("pg_basebackup: ")));
    // The pod hashed each finished file once (one sha256sum) and recorded it beside the backup.
    StringBuilder sums = new StringBuilder();
    for (BackupFile f : taken.files()) {
      assertThat(f.podSha256())
          .as(f.name())
          .isEqualTo(HostFiles.sha256Hex(Path.of(taken.podDir(), f.name())));
      sums.append(f.podSha256()).append("  ").append(f.name()).append('\n');
    }
    // Everything went into this run's own directory under podBackupDir, marked with its owner.
    assertThat(Path.of(taken.podDir()).getParent().getParent()).isEqualTo(Path.of(podDir));
    assertThat(Path.of(taken.podDir()).resolveSibling("OWNER")).exists();
    assertThat(Files.readString(Path.of(taken.podDir(), BackupActivitiesImpl.SUMS)))
        .isEqualTo(sums.toString());
    assertThat(box.podCommands()).filteredOn(c -> c.argv().contains("sha256sum")).hasSize(1);

    // Copy out with the stream of base.tar.gz cut at 50 % with exit code 0.
    long baseSize =
        taken.files().stream()
            .filter(f -> f.name().equals("base.tar.gz"))
            .findFirst()
            .orElseThrow()
            .podBytes();
    box.cutExecStream("(^| )dd .*base\\.tar\\.gz", 1, baseSize / 2);
    String hostDir = sandbox.resolve("host/limepoint/backup/" + WORKFLOW_ID).toString();
    BackupEvidence copied =
        backup.copyBackupOut(
            new BackupActivities.CopyRequest(NS, taken.pod(), taken.podDir(), hostDir));
    long total = taken.files().stream().mapToLong(BackupFile::podBytes).sum();
    System.out.println("copy out: " + copied.checks().get(0) + "; files total " + total + " bytes");
    assertThat(copied.checks().get(0))
        .contains("copied " + total + " bytes")
        .contains("resumed 1 times");
    for (BackupFile f : copied.files()) {
      assertThat(f.matches()).as(f.name()).isTrue();
      assertThat(Files.mismatch(Path.of(hostDir, f.name()), Path.of(taken.podDir(), f.name())))
          .as(f.name())
          .isEqualTo(-1L);
    }
    BackupEvidence copiedAgain =
        backup.copyBackupOut(
            new BackupActivities.CopyRequest(NS, taken.pod(), taken.podDir(), hostDir));
    assertThat(copiedAgain.checks().get(0)).startsWith("copied 0 bytes");
    // Neither copy hashed the pod's files again: the sums recorded by takeBackup are the pod's
    // side.
    assertThat(box.podCommands()).filteredOn(c -> c.argv().contains("sha256sum")).hasSize(1);

    BackupEvidence verified =
        backup.verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files()));
    assertThat(verified.passesVerification()).isTrue();
    assertThat(verified.checks()).anyMatch(c -> c.contains("PG_VERSION and backup_label"));
    // The backup's major version, read on the host from what pg_basebackup -vvv wrote: the
    // legacy server's.
    assertThat(
            backup
                .backupPgVersion(new BackupActivities.BackupPgVersionRequest(hostDir))
                .pgVersion())
        .isEqualTo(Files.readString(db.pgdata().resolve("PG_VERSION")).strip());

    // The manual restore into a new pgdata on the "PVC" of a fresh cluster.
    Path pvc = sandbox.resolve("pvc/data");
    Path newPgdata = pvc.resolve("pgdata");
    LocalPostgres fresh = LocalPostgres.init(newPgdata, "opschain");
    fresh.close();
    RestorePodActivities restore = ActivityStubs.of(env, RestorePodActivities.class);
    var podReq =
        new RestorePodActivities.RestorePodRequest(
            NS,
            "restore-from-backup",
            "limepoint/opschain-db:17.5",
            "opschain-db-1",
            newPgdata.toString(),
            false);
    assertThat(restore.createRestorePod(podReq).changed()).isTrue();
    assertThat(restore.createRestorePod(podReq).changed()).isFalse();
    var pod = box.client().pods().inNamespace(NS).withName("restore-from-backup").get();
    assertThat(pod.getSpec().getSecurityContext().getRunAsUser()).isZero();
    assertThat(pod.getSpec().getVolumes().get(0).getPersistentVolumeClaim().getClaimName())
        .isEqualTo("opschain-db-1");
    assertThat(pod.getSpec().getContainers().get(0).getVolumeMounts().get(0).getMountPath())
        .isEqualTo(pvc.toString());

    String uploadDir = sandbox.resolve("restorepod/tmp").toString();
    var upload =
        new BackupActivities.UploadRequest(
            NS, "restore-from-backup", hostDir, uploadDir, verified.files());
    assertThat(backup.uploadBackup(upload).changed()).isTrue();
    assertThat(backup.uploadBackup(upload).changed()).isFalse();

    var pg =
        new RestorePodActivities.PgdataRequest(
            NS,
            "restore-from-backup",
            newPgdata.toString(),
            uploadDir,
            LocalPostgres.serverOwner());
    String hbaBefore = Files.readString(newPgdata.resolve("pg_hba.conf"));
    assertThat(restore.saveConfFiles(pg).changed()).isTrue();
    assertThat(restore.saveConfFiles(pg).changed()).isFalse();
    ChangeResult restored = restore.restorePgdata(pg);
    assertThat(restored.changed()).isTrue();
    assertThat(restore.restorePgdata(pg).changed()).isFalse();
    assertThat(Files.readString(newPgdata.resolve("pg_hba.conf"))).isEqualTo(hbaBefore);
    assertThat(newPgdata.resolve("backup_label")).exists();

    RestorePodActivities.ControlDataResult control = restore.checkControlData(pg);
    assertThat(control.clusterState()).isEqualTo("in production");
    // Only the fields the check needs: not the mock authentication nonce, not the system id.
    assertThat(control.output())
        .contains("Database cluster state: in production", "Latest checkpoint location: ")
        .doesNotContain("nonce", "system identifier")
        .hasLineCount(5);
    assertThat(restore.deleteRestorePod(podReq).changed()).isTrue();
    assertThat(restore.deleteRestorePod(podReq).changed()).isFalse();

    try (LocalPostgres after = LocalPostgres.startExisting(newPgdata)) {
      assertThat(DbPodFixture.rowsAndChecksum(after)).isEqualTo(before);
    }
  }

  @SuppressWarnings("unused")
  private static final List<String> USED = List.of();
}
