package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.kube.SameRun;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.PodCommand;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import io.temporal.testing.TestActivityEnvironment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A retry never runs beside the attempt before it. Each destructive pod step is started as attempt
 * 1 and cut off midway the way a dead worker leaves it: its pod command is stopped (SIGSTOP,
 * partial work on disk) and the attempt is abandoned, while the process lives on in the pod as it
 * does in Kubernetes (closing an exec does not end its process). Attempt 2 of the same run then
 * runs the step: it must stop attempt 1's process group first (the harness shows the two never
 * overlapped) and end in the right state: a complete backup that verifies, an upload whose SHA-256
 * matches, and a pgdata whose files are those of the backup, on which PostgreSQL starts with every
 * row.
 */
class RetryFenceIT {
  static final String NS = "opschain";
  static final String RUN = "retry-fence-run";

  Path sandbox;
  DbPodFixture fixture;
  RealCluster box;
  LocalPostgres db;
  TestActivityEnvironment first;
  TestActivityEnvironment second;

  @BeforeEach
  void setUp() throws Exception {
    fixture = DbPodFixture.start("fence-", 300_000, 200);
    sandbox = fixture.sandbox();
    box = fixture.box();
    db = fixture.db();
    first = attempt(1);
    second = attempt(2);
  }

  private TestActivityEnvironment attempt(int n) {
    TestActivityEnvironment env = SameRun.environment(RUN, n);
    env.registerActivitiesImplementations(
        new BackupActivitiesImpl(box.activityClient(), "test-host"),
        new RestorePodActivitiesImpl(box.activityClient()));
    return env;
  }

  @AfterEach
  void tearDown() throws Exception {
    for (TestActivityEnvironment env : new TestActivityEnvironment[] {first, second}) {
      if (env != null) {
        env.close();
      }
    }
    if (fixture != null) {
      fixture.close();
    }
  }

  @Test
  void eachRetryStopsTheAttemptBeforeItAndEndsInTheRightState() throws Exception {
    String before = DbPodFixture.rowsAndChecksum(db);
    assertThat(before).startsWith("300000 ");
    BackupActivities backup1 = ActivityStubs.of(first, BackupActivities.class);
    BackupActivities backup2 = ActivityStubs.of(second, BackupActivities.class);
    RestorePodActivities restore1 = ActivityStubs.of(first, RestorePodActivities.class);
    RestorePodActivities restore2 = ActivityStubs.of(second, RestorePodActivities.class);

    // takeBackup: pg_basebackup stopped 1 s in, its partial backup on disk.
    var req =
        new BackupActivities.BackupRequest(
            NS, "opschain-db", sandbox.resolve("pod/tmp/backup").toString(), "8M", "opschain", "x");
    var paused = box.pauseExec("pg_basebackup", Duration.ofSeconds(1));
    CompletableFuture<?> cutOff = abandoned(() -> backup1.takeBackup(req));
    paused.await(Duration.ofSeconds(60));
    Path runDir = partial(sandbox.resolve("pod/tmp/backup"), "base.tar.gz");
    BackupActivities.PodBackup taken = backup2.takeBackup(req);
    assertStoppedFirst(cutOff, "pg_basebackup");
    assertThat(taken.reused()).isFalse();
    assertThat(Path.of(taken.podDir()).getParent()).isEqualTo(runDir);
    String hostDir = sandbox.resolve("host/backup").toString();
    BackupEvidence copied =
        backup2.copyBackupOut(
            new BackupActivities.CopyRequest(NS, taken.pod(), taken.podDir(), hostDir));
    BackupEvidence verified =
        backup2.verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files()));
    assertThat(verified.passesVerification()).as("the retried backup verifies").isTrue();

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
    restore2.createRestorePod(podReq);

    // uploadBackup: the dd writing base.tar.gz.part (one 64 MiB segment holds all of it) is
    // stopped as it starts, with the upload's directory made and the client's sends held back.
    String uploadBase = sandbox.resolve("restorepod/tmp").toString();
    var upload =
        new BackupActivities.UploadRequest(
            NS, "restore-from-backup", hostDir, uploadBase, verified.files());
    paused = box.pauseExec("dd of=.*base\\.tar\\.gz\\.part", Duration.ZERO);
    cutOff = abandoned(() -> backup1.uploadBackup(upload));
    paused.await(Duration.ofSeconds(60));
    partial(Path.of(uploadBase), "backup");
    ChangeResult uploaded = backup2.uploadBackup(upload);
    assertStoppedFirst(cutOff, "dd of=.*base\\.tar\\.gz\\.part");
    assertThat(uploaded.summary()).contains("SHA-256 checked in the pod");
    Path uploadDir = Path.of(uploadBase).resolve(runDir.getFileName()).resolve("backup");
    for (BackupFile f : verified.files()) {
      assertThat(HostFiles.sha256Hex(uploadDir.resolve(f.name()))).isEqualTo(f.hostSha256());
    }

    // restorePgdata: tar stopped 50 ms into extracting base.tar.gz, after pgdata was emptied.
    var pg =
        new RestorePodActivities.PgdataRequest(
            NS, "restore-from-backup", pgdata.toString(), uploadBase, LocalPostgres.serverOwner());
    restore2.saveConfFiles(pg);
    paused = box.pauseExec("tar -xzf .*base\\.tar\\.gz", Duration.ofMillis(50));
    cutOff = abandoned(() -> restore1.restorePgdata(pg));
    paused.await(Duration.ofSeconds(60));
    // pgdata was emptied (the first step's marker is there) and tar was stopped while extracting.
    partial(
        pgdata.resolveSibling("opschain-db-upgrade-saved-conf"),
        ".restore-test-workflow-id." + RUN + ".1");
    ChangeResult restored = restore2.restorePgdata(pg);
    assertStoppedFirst(cutOff, "tar -xzf .*base\\.tar\\.gz");
    assertThat(restored.summary()).startsWith("resumed after empty pgdata");
    assertThat(files(pgdata, true)).isEqualTo(files(extracted(uploadDir), true));
    assertThat(restore2.checkControlData(pg).clusterState()).isEqualTo("in production");
    try (LocalPostgres after = LocalPostgres.startExisting(pgdata)) {
      assertThat(DbPodFixture.rowsAndChecksum(after)).isEqualTo(before);
    }
  }

  /**
   * Starts attempt 1 of a step on a thread of its own (not the common pool, which the fabric8
   * client's own async stages need); the test never waits for it, as nobody waits for a dead
   * worker.
   */
  private static CompletableFuture<?> abandoned(Supplier<?> step) {
    CompletableFuture<Object> f = new CompletableFuture<>();
    Thread.ofPlatform()
        .daemon()
        .name("cut-off-attempt")
        .start(() -> {
          try {
            f.complete(step.get());
          } catch (RuntimeException e) {
            f.completeExceptionally(e);
          }
        });
    return f;
  }

  /**
   * The cut-off attempt left partial work: a file named {@code name} below {@code below}; returns
   * the first level below {@code below} that holds it (the run's directory).
   */
  private static Path partial(Path below, String name) throws IOException {
    try (Stream<Path> s = Files.walk(below)) {
      Path hit =
          s.filter(p -> p.getFileName().toString().equals(name))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no partial " + name + " under " + below));
      return below.resolve(below.relativize(hit).getName(0));
    }
  }

  /**
   * The retry stopped the cut-off attempt's process before running its own: never two at once, a
   * signal sent between them, and attempt 1 ended by it (its call failed).
   */
  private void assertStoppedFirst(CompletableFuture<?> cutOff, String command) throws Exception {
    // The cut-off attempt ends by itself: its process was stopped under it, and its next fenced
    // command could not open its lock.
    try {
      cutOff.get(30, TimeUnit.SECONDS);
      throw new AssertionError("the cut-off attempt of " + command + " succeeded");
    } catch (java.util.concurrent.ExecutionException expected) {
      // as it should
    }
    assertThat(box.maxConcurrent(command)).as("%s never ran twice at once", command).isEqualTo(1);
    java.util.regex.Pattern p = java.util.regex.Pattern.compile(command);
    List<PodCommand> runs =
        box.podCommands().stream()
            .filter(c -> p.matcher(String.join(" ", c.argv())).find())
            .filter(c -> !c.refusedByFence())
            .toList();
    assertThat(runs).hasSizeGreaterThanOrEqualTo(2);
    // The cut-off attempt's command ended (killed) before the retry's first one began.
    PodCommand killed = runs.stream().filter(c -> c.exitCode() != 0).findFirst().orElseThrow();
    PodCommand next = runs.get(runs.indexOf(killed) + 1);
    assertThat(killed.endedMillis()).isLessThanOrEqualTo(next.startedMillis());
    assertThat(box.podCommands())
        .anyMatch(c -> c.argv().get(0).equals("perl") && c.startedMillis() <= killed.endedMillis());
  }

  /** base.tar.gz and pg_wal.tar.gz extracted into a scratch dir, as the restore lays them out. */
  private Path extracted(Path uploadDir) throws IOException, InterruptedException {
    Path dir = Files.createDirectories(sandbox.resolve("expected-pgdata"));
    Files.createDirectories(dir.resolve("pg_wal"));
    for (String[] a :
        new String[][] {{"base.tar.gz", dir.toString()}, {"pg_wal.tar.gz", dir + "/pg_wal"}}) {
      Process p =
          new ProcessBuilder("tar", "-xzf", uploadDir.resolve(a[0]).toString(), "-C", a[1])
              .inheritIO()
              .start();
      assertThat(p.waitFor()).isZero();
    }
    return dir;
  }

  /**
   * Every regular file below {@code dir} by relative path, with its SHA-256; the four conf files,
   * which the restore puts back from the saved copies, are left out.
   */
  private static Map<String, String> files(Path dir, boolean skipConf) throws IOException {
    Map<String, String> out = new TreeMap<>();
    List<String> conf =
        List.of("pg_hba.conf", "pg_ident.conf", "postgresql.conf", "postgresql.auto.conf");
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        String rel = dir.relativize(p).toString();
        if (skipConf && conf.contains(rel)) {
          continue;
        }
        out.put(rel, HostFiles.sha256Hex(p));
      }
    }
    return out;
  }
}
