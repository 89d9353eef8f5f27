package com.limepoint.opschain.dbupgrade.bench;

import com.limepoint.opschain.dbupgrade.ActivityStubs;
import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities;
import com.limepoint.opschain.dbupgrade.backup.BackupActivitiesImpl;
import com.limepoint.opschain.dbupgrade.backup.DataCheckActivitiesImpl;
import com.limepoint.opschain.dbupgrade.backup.DbPodFixture;
import com.limepoint.opschain.dbupgrade.kube.SameRun;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import io.temporal.testing.TestActivityEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The data checks at scale: a legacy database grown with {@code pgbench -i -s <scale>} (scale 70 is
 * about 1 GiB; {@code -Dscale=}), then, through the activities on the harness as the workflow runs
 * them, the source census, the backup (pg_basebackup, copy out, verify), the restore rehearsal, the
 * import the runbook's CNPG import does (CNPG's {@code pg_dump -Fd}, {@code pg_restore}) and the
 * parity census. Prints each step's seconds, the downtime they make up (OpsChain is stopped for all
 * of them) and what the data checks add to it. Run: {@code ./mvnw -q -pl activities -am
 * -Pbench-data -DskipTests verify}.
 */
public final class DataProofBenchmark {
  private static final String WF = "bench-data";

  public static void main(String[] args) throws Exception {
    int scale = Integer.getInteger("scale", 70);
    Map<String, Double> seconds = new LinkedHashMap<>();
    try (DbPodFixture f = DbPodFixture.start("bench-data-", 1000, 0)) {
      LocalPostgres legacy = f.db();
      RealCluster box = f.box();
      seconds.put(
          "pgbench -i (setup, not downtime)",
          time(() -> {
            pgbench(legacy, scale);
            return null;
          }));
      String size = legacy.sql("opschain", "SELECT pg_size_pretty(pg_database_size('opschain'))");
      TestActivityEnvironment env = SameRun.environment("run-1", 1);
      env.registerActivitiesImplementations(
          new BackupActivitiesImpl(box.activityClient(), "bench-host"),
          new DataCheckActivitiesImpl(box.activityClient()));
      BackupActivities backup = ActivityStubs.of(env, BackupActivities.class);
      DataCheckActivities checks = ActivityStubs.of(env, DataCheckActivities.class);
      Path sandbox = f.sandbox();
      String hostDir = sandbox.resolve("host/backup").toString();
      Files.createDirectories(sandbox.resolve("pod/tmp"));
      String ns = DbPodFixture.NS;
      DataCheckActivities.CensusResult[] source = new DataCheckActivities.CensusResult[1];
      seconds.put(
          "census of the source",
          time(() ->
              source[0] =
                  checks.census(
                      new DataCheckActivities.CensusRequest(
                          ns,
                          DataCheckActivities.Source.LEGACY_DEPLOYMENT,
                          "opschain-db",
                          "opschain",
                          "opschain",
                          hostDir,
                          "source",
                          null))));
      BackupEvidence[] verified = new BackupEvidence[1];
      seconds.put(
          "backup: pg_basebackup, copy out, verify",
          time(() -> {
            var taken =
                backup.takeBackup(
                    new BackupActivities.BackupRequest(
                        ns,
                        "opschain-db",
                        sandbox.resolve("pod/tmp/backup").toString(),
                        "1000M",
                        "opschain",
                        WF));
            BackupEvidence copied =
                backup.copyBackupOut(
                    new BackupActivities.CopyRequest(ns, taken.pod(), taken.podDir(), hostDir));
            verified[0] =
                backup.verifyBackup(new BackupActivities.VerifyRequest(hostDir, copied.files()));
            return null;
          }));
      long archives =
          verified[0].files().stream()
              .mapToLong(b -> b.hostBytes() == null ? 0 : b.hostBytes())
              .sum();
      DataCheckActivities.RehearsalResult[] rehearsal = new DataCheckActivities.RehearsalResult[1];
      seconds.put(
          "restore rehearsal",
          time(() ->
              rehearsal[0] =
                  checks.rehearseRestore(
                      new DataCheckActivities.RehearsalRequest(
                          ns,
                          "opschain-db-rehearsal",
                          ClusterInABox.RESTORE_IMAGE,
                          LocalPostgres.serverOwner(),
                          "opschain",
                          "opschain",
                          hostDir,
                          verified[0].files(),
                          4 * archives + (1L << 30),
                          900))));
      LocalPostgres[] cnpg = new LocalPostgres[1];
      seconds.put(
          "import: CNPG's pg_dump -Fd, pg_restore by section, ANALYZE",
          time(() -> {
            cnpg[0] = LocalPostgres.init(sandbox.resolve("cnpg/data/pgdata"), "opschain");
            cnpg[0].importFrom(legacy, "opschain");
            return null;
          }));
      box.runPod(
          ns,
          "opschain-db-1",
          Map.of("cnpg.io/cluster", "opschain-db", "cnpg.io/instanceRole", "primary"),
          0);
      box.cnpgInstanceServes(ns, "opschain-db-1", cnpg[0].port());
      DataCheckActivities.CensusResult[] parity = new DataCheckActivities.CensusResult[1];
      seconds.put(
          "parity: census of CNPG vs source",
          time(() ->
              parity[0] =
                  checks.census(
                      new DataCheckActivities.CensusRequest(
                          ns,
                          DataCheckActivities.Source.CNPG_CLUSTER,
                          "opschain-db",
                          "opschain",
                          "opschain",
                          hostDir,
                          "cnpg",
                          "source"))));
      cnpg[0].close();
      env.close();
      print(scale, size, archives, seconds, source[0], rehearsal[0], parity[0]);
    }
    // The harness's clients leave timer threads behind; the benchmark is done.
    System.exit(0);
  }

  private static void print(
      int scale,
      String size,
      long archives,
      Map<String, Double> seconds,
      DataCheckActivities.CensusResult source,
      DataCheckActivities.RehearsalResult rehearsal,
      DataCheckActivities.CensusResult parity) {
    System.out.printf(
        "database: pgbench scale %d, %s; backup archives %.1f MB%n", scale, size, archives / 1e6);
    double downtime = 0;
    double checks = 0;
    for (var e : seconds.entrySet()) {
      System.out.printf("%-50s %8.1f s%n", e.getKey(), e.getValue());
      if (!e.getKey().contains("setup")) {
        downtime += e.getValue();
      }
      if (e.getKey().contains("census") || e.getKey().contains("rehearsal")) {
        checks += e.getValue();
      }
    }
    System.out.printf(
        "%-50s %8.1f s%n%-50s %8.1f s (%.0f %%)%n",
        "downtime of these steps",
        downtime,
        "of which the data checks",
        checks,
        100 * checks / downtime);
    List<String> lines = new ArrayList<>();
    lines.add("source: " + source.summary());
    lines.add("rehearsal: " + rehearsal.summary());
    lines.add("parity: " + parity.summary());
    lines.forEach(System.out::println);
    if (!rehearsal.passed() || !parity.comparison().equal()) {
      throw new IllegalStateException("the data checks did not pass: " + lines);
    }
  }

  /** {@code pgbench -i -q -s <scale>} into database opschain (also the downtime benchmark's). */
  public static void pgbench(LocalPostgres db, int scale) throws Exception {
    Process p =
        new ProcessBuilder(
                LocalPostgres.BIN.resolve("pgbench").toString(),
                "-i",
                "-q",
                "-s",
                Integer.toString(scale),
                "-h",
                "127.0.0.1",
                "-p",
                Integer.toString(db.port()),
                "-U",
                "opschain",
                "opschain")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException("pgbench -i failed: " + out);
    }
  }

  private static double time(Callable<?> step) throws Exception {
    long t0 = System.nanoTime();
    step.call();
    return (System.nanoTime() - t0) / 1e9;
  }
}
