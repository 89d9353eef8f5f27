package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.CensusRequest;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.Source;
import com.limepoint.opschain.dbupgrade.kube.SameRun;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The data-check activities on the harness's real PostgreSQL: what the census catches, and that the
 * rehearsal's scratch pod is this run's alone and never outlives the attempt.
 */
class DataChecksIT {
  static final String NS = DbPodFixture.NS;
  static final String POD = "opschain-db-rehearsal";
  static final List<String> STDIN_TAR = List.of("tar", "-xf", "-", "-C");

  DbPodFixture fixture;
  TestActivityEnvironment env;
  DataCheckActivities checks;
  String hostDir;

  @BeforeEach
  void setUp() throws Exception {
    fixture = DbPodFixture.start("datachecks-", 20_000, 16);
    env = SameRun.environment("run-1", 1);
    env.registerActivitiesImplementations(
        new BackupActivitiesImpl(fixture.box().activityClient(), "test-host"),
        new DataCheckActivitiesImpl(fixture.box().activityClient()));
    checks = ActivityStubs.of(env, DataCheckActivities.class, Duration.ofSeconds(8));
    hostDir = fixture.sandbox().resolve("host/backup").toString();
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

  CensusRequest census(String label, String baseline) {
    return new CensusRequest(
        NS,
        Source.LEGACY_DEPLOYMENT,
        "opschain-db",
        "opschain",
        "opschain",
        hostDir,
        label,
        baseline);
  }

  @Test
  void theCensusCatchesAChangedRowWhoseCountIsTheSameAndKeepsNoRowsInItsResult() throws Exception {
    DataCheckActivities.CensusResult source = checks.census(census("source", null));
    assertThat(source.tables()).isEqualTo(1);
    assertThat(source.rows()).isEqualTo(20_000);
    assertThat(source.checksummed()).isEqualTo(1);
    fixture.db().sql("opschain", "UPDATE items SET payload = 'changed' WHERE id = 4242");

    DataCheckActivities.CensusResult after = checks.census(census("after", "source"));

    assertThat(after.comparison().equal()).isFalse();
    assertThat(after.comparison().differences())
        .containsExactly("public.items: same row count, different rows (checksum)");
    // The census file holds names, counts and checksums; history gets its path and hash.
    String file = Files.readString(java.nio.file.Path.of(after.file()));
    assertThat(file).contains("public.items\t20000\t").doesNotContain("changed");
    assertThat(after.toString()).doesNotContain("changed", "md5(");
    fixture.db().sql("opschain", "DELETE FROM items WHERE id > 19000");
    assertThat(checks.census(census("fewer", "source")).comparison().differences())
        .containsExactly("public.items: 19000 rows, 20000 in source");
  }

  @Test
  void aPodOfTheRehearsalsNameThatThisRunDidNotCreateIsRefusedAndLeftAlone() throws Exception {
    RealCluster box = fixture.box();
    box.client()
        .pods()
        .inNamespace(NS)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(POD)
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("someone-elses")
                .withImage("busybox")
                .endContainer()
                .endSpec()
                .build())
        .create();
    BackupEvidence verified = backup();

    assertThatThrownBy(() -> checks.rehearseRestore(request(verified)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.NOT_OWNED);
              assertThat(f.isNonRetryable()).isTrue();
            });
    assertThat(box.client().pods().inNamespace(NS).withName(POD).get().getSpec().getContainers())
        .extracting(c -> c.getName())
        .containsExactly("someone-elses");
  }

  @Test
  void aCanceledRehearsalDeletesItsPodAndItsScratchSpace() throws Exception {
    RealCluster box = fixture.box();
    BackupEvidence verified = backup();
    // PostgreSQL takes a while to come up: the attempt is canceled meanwhile.
    box.slowExec("pg_ctl", Duration.ofSeconds(30));
    // A thread of its own: on 2 cores the common pool has one thread, which the fabric8 client's
    // own callbacks need.
    java.util.concurrent.ExecutorService caller =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    CompletableFuture<DataCheckActivities.RehearsalResult> running =
        CompletableFuture.supplyAsync(() -> checks.rehearseRestore(request(verified)), caller);
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (box.podCommands().stream().noneMatch(c -> c.argv().contains("pg_ctl"))) {
      assertThat(System.nanoTime()).as("pg_ctl started").isLessThan(deadline);
      Thread.sleep(100);
    }
    assertThat(box.scratchPodsLeft()).containsExactly(NS + "/" + POD);
    env.requestCancelActivity();

    assertThatThrownBy(running::join).hasCauseInstanceOf(CanceledFailure.class);
    while (!box.scratchPodsLeft().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(box.client().pods().inNamespace(NS).withName(POD).get()).isNull();
    assertThat(box.scratchPodsLeft()).isEmpty();
    caller.shutdownNow();
  }

  @Test
  void aStreamedArchiveChangedOnTheHostAfterItsVerificationIsNotRehearsed() throws Exception {
    BackupEvidence verified = backup("stream", "zstd");
    java.nio.file.Path archive = java.nio.file.Path.of(hostDir, "base.tar.zst");
    flipOneByteKeepingSizeAndTime(archive);

    assertThatThrownBy(() -> checks.rehearseRestore(request(verified)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.BACKUP_CHECKSUM_MISMATCH);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains(
                      "base.tar.zst read as",
                      "not the verified " + verified.files().get(0).hostSha256());
            });
    assertThat(fixture.box().client().pods().inNamespace(NS).withName(POD).get()).isNull();
  }

  @Test
  void theRunbooksGzipBackupIsRehearsedFromTheWorkersStreamWithNothingUploadedToThePod()
      throws Exception {
    BackupEvidence verified = backup();
    assertThat(verified.files()).extracting(f -> f.name()).contains("base.tar.gz", "pg_wal.tar.gz");
    int before = fixture.box().podCommands().size();

    DataCheckActivities.RehearsalResult r = checks.rehearseRestore(request(verified));

    assertThat(r.passed()).as(String.valueOf(r.problem())).isTrue();
    assertThat(r.clusterState()).isEqualTo("in production");
    var inRehearsal =
        fixture.box().podCommands().subList(before, fixture.box().podCommands().size()).stream()
            .filter(c -> POD.equals(c.pod()))
            .map(c -> c.argv())
            .toList();
    // Base and WAL each went through one tar reading stdin; no dd wrote an upload, no tar -xzf or
    // gzip ran in the pod.
    assertThat(inRehearsal)
        .filteredOn(argv -> argv.size() == 5 && argv.subList(0, 4).equals(STDIN_TAR))
        .extracting(argv -> argv.get(4))
        .containsExactly("/rehearsal/pgdata", "/rehearsal/pgdata/pg_wal");
    assertThat(inRehearsal)
        .noneMatch(argv -> argv.contains("dd") || argv.contains("-xzf") || argv.contains("gzip"));
  }

  @Test
  void aGzipArchiveChangedOnTheHostAfterItsVerificationIsNotRehearsed() throws Exception {
    BackupEvidence verified = backup();
    java.nio.file.Path archive = java.nio.file.Path.of(hostDir, "base.tar.gz");
    flipOneByteKeepingSizeAndTime(archive);

    assertThatThrownBy(() -> checks.rehearseRestore(request(verified)))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.BACKUP_CHECKSUM_MISMATCH);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains(
                      "base.tar.gz read as",
                      "not the verified " + verified.files().get(0).hostSha256());
            });
    assertThat(fixture.box().client().pods().inNamespace(NS).withName(POD).get()).isNull();
  }

  /**
   * One byte changed in place: the size and modification time the check record keeps still hold.
   */
  static void flipOneByteKeepingSizeAndTime(java.nio.file.Path archive) throws Exception {
    var mtime = Files.getLastModifiedTime(archive);
    try (var ch =
        java.nio.channels.FileChannel.open(
            archive,
            java.nio.file.StandardOpenOption.READ,
            java.nio.file.StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
      long at = ch.size() / 2;
      ch.read(one, at);
      one.put(0, (byte) ~one.get(0)).rewind();
      ch.write(one, at);
    }
    Files.setLastModifiedTime(archive, mtime);
  }

  DataCheckActivities.RehearsalRequest request(BackupEvidence verified) {
    try {
      return new DataCheckActivities.RehearsalRequest(
          NS,
          POD,
          ClusterInABox.RESTORE_IMAGE,
          LocalPostgres.serverOwner(),
          "opschain",
          "opschain",
          hostDir,
          verified.files(),
          1L << 30,
          300);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** A census of the source and a verified backup on the host, as the workflow has them. */
  BackupEvidence backup() throws Exception {
    return backup(null, null);
  }

  /** The same, in a backup mode and format ({@code null}: the runbook's, pod and gzip). */
  BackupEvidence backup(String mode, String format) throws Exception {
    checks.census(census("source", null));
    BackupActivities backup = ActivityStubs.of(env, BackupActivities.class);
    Files.createDirectories(fixture.sandbox().resolve("pod/tmp"));
    var taken =
        backup.takeBackup(
            new BackupActivities.BackupRequest(
                NS,
                "opschain-db",
                fixture.sandbox().resolve("pod/tmp/backup").toString(),
                "300M",
                "opschain",
                "test-workflow-id",
                mode,
                format,
                mode == null ? null : hostDir));
    BackupEvidence copied =
        backup.copyBackupOut(
            new BackupActivities.CopyRequest(NS, taken.pod(), taken.podDir(), hostDir, mode));
    return backup.verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files()));
  }
}
