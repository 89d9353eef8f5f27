package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every backup mode and format on real processes: real pg_basebackup (PostgreSQL 15, which
 * compresses server-side) through the fabric8 exec, the copy (or the stream) with its archive check
 * in the same pass, verification from that record without reading the archives again, the backup's
 * PG_VERSION, the upload (zstd decompressed on the worker), the manual restore's plain untar,
 * pg_controldata, and a server on the result with every row.
 */
class BackupFormatsIT {
  static final String NS = "opschain";

  DbPodFixture fixture;
  RealCluster box;
  LocalPostgres db;
  Path sandbox;
  TestActivityEnvironment env;

  @BeforeEach
  void setUp() throws Exception {
    fixture = DbPodFixture.start("formats-", 50_000, 64);
    sandbox = fixture.sandbox();
    box = fixture.box();
    db = fixture.db();
    env = com.limepoint.opschain.dbupgrade.kube.SameRun.environment("run-1", 1);
    env.registerActivitiesImplementations(
        new BackupActivitiesImpl(box.activityClient(), "test-host"),
        new RestorePodActivitiesImpl(box.activityClient()));
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

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({
    "pod, gzip, base.tar.gz;pg_wal.tar.gz;backup_manifest",
    "pod, zstd, base.tar.zst;pg_wal.tar;backup_manifest",
    "pod, auto, base.tar.zst;pg_wal.tar;backup_manifest",
    "stream, gzip, base.tar.gz",
    "stream, zstd, base.tar.zst",
  })
  void eachModeAndFormatRestoresEveryRow(String mode, String format, String names)
      throws Exception {
    String before = DbPodFixture.rowsAndChecksum(db);
    BackupActivities backup = ActivityStubs.of(env, BackupActivities.class);
    String podDir = sandbox.resolve("pod/tmp/backup").toString();
    Files.createDirectories(sandbox.resolve("pod/tmp"));
    String hostDir = sandbox.resolve("host/backup/run").toString();
    var req =
        new BackupActivities.BackupRequest(
            NS, "opschain-db", podDir, "300M", "opschain", "wf", mode, format, hostDir);

    BackupActivities.PodBackup taken = backup.takeBackup(req);
    assertThat(taken.files()).extracting(BackupFile::name).containsExactly(names.split(";"));
    assertThat(backup.takeBackup(req).reused()).isTrue();
    assertThat(box.podCommands())
        .filteredOn(c -> String.join(" ", c.argv()).contains("pg_basebackup"))
        .hasSize(1);
    if (mode.equals("stream")) {
      // Nothing but the run's markers in the pod: the bytes went straight to the host.
      try (var inPod = Files.walk(Path.of(podDir))) {
        assertThat(inPod.filter(p -> p.getFileName().toString().contains(".tar"))).isEmpty();
      }
      assertThat(taken.files()).allMatch(BackupFile::matches);
    }

    BackupEvidence copied =
        backup.copyBackupOut(
            new BackupActivities.CopyRequest(NS, taken.pod(), taken.podDir(), hostDir, mode));
    assertThat(copied.files()).allMatch(BackupFile::matches);
    BackupEvidence verified =
        backup.verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files()));
    System.out.println(mode + " " + format + ": " + String.join(" | ", verified.checks()));
    assertThat(verified.passesVerification()).isTrue();
    // The archive checks were made while the bytes arrived: nothing was read again to verify.
    assertThat(verified.checks())
        .filteredOn(c -> c.contains("tar entries walked"))
        .isNotEmpty()
        .allMatch(c -> c.contains("while it was copied"));
    assertThat(verified.checks()).noneMatch(c -> c.startsWith("read again"));
    assertThat(verified.checks()).anyMatch(c -> c.matches("[1-9]\\d* WAL segments in the backup"));
    assertThat(
            backup
                .backupPgVersion(new BackupActivities.BackupPgVersionRequest(hostDir))
                .pgVersion())
        .isEqualTo(Files.readString(db.pgdata().resolve("PG_VERSION")).strip());

    Path newPgdata = sandbox.resolve("pvc/data/pgdata");
    LocalPostgres.init(newPgdata, "opschain").close();
    RestorePodActivities restore = ActivityStubs.of(env, RestorePodActivities.class);
    var podReq =
        new RestorePodActivities.RestorePodRequest(
            NS,
            "restore-from-backup",
            "limepoint/opschain-db:17.5",
            "opschain-db-1",
            newPgdata.toString(),
            false);
    restore.createRestorePod(podReq);
    String uploadDir = sandbox.resolve("restorepod/tmp").toString();
    var upload =
        new BackupActivities.UploadRequest(
            NS, "restore-from-backup", hostDir, uploadDir, verified.files());
    assertThat(backup.uploadBackup(upload).changed()).isTrue();
    assertThat(backup.uploadBackup(upload).changed()).isFalse();
    try (var uploaded = Files.walk(Path.of(uploadDir))) {
      List<String> tars =
          uploaded.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tar")).toList();
      // zstd arrives as a plain tar: the restore image needs no decompressor.
      assertThat(tars).allMatch(n -> n.endsWith(".tar") || n.endsWith(".tar.gz"));
      assertThat(tars).noneMatch(n -> n.endsWith(".zst"));
    }
    var pg =
        new RestorePodActivities.PgdataRequest(
            NS,
            "restore-from-backup",
            newPgdata.toString(),
            uploadDir,
            LocalPostgres.serverOwner());
    restore.saveConfFiles(pg);
    assertThat(restore.restorePgdata(pg).changed()).isTrue();
    assertThat(restore.checkControlData(pg).clusterState()).isEqualTo("in production");
    restore.deleteRestorePod(podReq);
    try (LocalPostgres after = LocalPostgres.startExisting(newPgdata)) {
      assertThat(DbPodFixture.rowsAndChecksum(after)).isEqualTo(before);
    }
  }

  /**
   * The streamed backup's stdout is cut after 1 MiB and the exec still reports exit 0 (the known
   * {@code kubectl cp} failure): without the pod's SHA-256 of what it sent the attempt fails
   * retryably and leaves no file under the archive's name; the retry streams it again.
   */
  @org.junit.jupiter.api.Test
  void aStreamCutHalfwayIsRefusedAndTheRetryStreamsItAgain() throws Exception {
    BackupActivities backup = ActivityStubs.of(env, BackupActivities.class);
    String podDir = sandbox.resolve("pod/tmp/backup").toString();
    Files.createDirectories(sandbox.resolve("pod/tmp"));
    String hostDir = sandbox.resolve("host/backup/run").toString();
    var req =
        new BackupActivities.BackupRequest(
            NS, "opschain-db", podDir, "300M", "opschain", "wf", "stream", "zstd", hostDir);
    box.cutExecStream("(^| )sh -c( |$)", 1, 1 << 20);

    // The harness ends the cut exec with exit 0 and without the script's last line: the attempt
    // fails (retryably: BackupFailed is not among the workflow's non-retryable types).
    assertThatThrownBy(() -> backup.takeBackup(req))
        .hasStackTraceContaining("before the pod reported the SHA-256 of what it sent")
        .hasStackTraceContaining("BackupFailed");
    assertThat(com.limepoint.opschain.dbupgrade.model.FailureTypes.NON_RETRYABLE)
        .doesNotContain("BackupFailed");
    assertThat(Path.of(hostDir, "base.tar.zst")).doesNotExist();

    BackupActivities.PodBackup taken = backup.takeBackup(req);
    assertThat(taken.reused()).isFalse();
    assertThat(taken.files()).allMatch(BackupFile::matches);
    BackupEvidence verified =
        backup.verifyBackup(new BackupActivities.VerifyRequest(hostDir, taken.files()));
    assertThat(verified.passesVerification()).isTrue();
  }
}
