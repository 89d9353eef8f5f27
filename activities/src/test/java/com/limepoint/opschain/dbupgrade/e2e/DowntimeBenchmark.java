package com.limepoint.opschain.dbupgrade.e2e;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The downtime at scale (not in CI): a legacy database of {@code pgbench -i -s <scale>} plus a
 * table of random hex text ({@code -DrandomMb}, hard to compress), grown once and copied for each
 * run; then the whole automatic path and the whole manual-restore path (the import fails, the
 * backup is restored by hand) on the e2e harness, in each backup mode and format. Per run it prints
 * each step's wall time, the largest heartbeat gap seen on a running activity, the bytes moved, the
 * worker's peak heap and RSS (the worker runs in this JVM), and the downtime (START approved →
 * services restarted) beside the runbook's own work measured alone on the same data: {@code
 * pg_basebackup -z} to a local directory, {@code sha256sum} of it, the import alone (CNPG's {@code
 * pg_dump -Fd} then {@code pg_restore}) or the restore alone ({@code tar -xzf} of base and WAL),
 * and the run's own data checks (census, rehearsal, parity). Run: {@code ./mvnw -q -pl activities
 * -am -Pbench-downtime -DskipTests verify} ({@code -Dscale=210 -DrandomMb=1100
 * -Dmodes=pod/gzip,stream/zstd -Dpaths=automatic,manual -Dtemplate=<a pgdata grown before>
 * -DbenchJvm=<one JVM flag> -Drepeat=3}: each run three times, with medians).
 */
public final class DowntimeBenchmark {
  private static final List<String> CHECKS =
      List.of("sourceCensus", "rehearseRestore", "checkParity", "checkRestoredParity");

  private DowntimeBenchmark() {}

  public static void main(String[] args) throws Exception {
    int scale = Integer.getInteger("scale", 210);
    int randomMb = Integer.getInteger("randomMb", 1100);
    List<String> modes =
        List.of(
            System.getProperty("modes", "pod/gzip,pod/zstd,stream/gzip,stream/zstd").split(","));
    List<String> paths = List.of(System.getProperty("paths", "automatic,manual").split(","));
    Path root = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("bench-downtime-");
    String given = System.getProperty("template", "");
    Path template = given.isEmpty() ? root.resolve("template/pgdata") : Path.of(given);
    long t0 = System.nanoTime();
    String size;
    // -Dtemplate: a stopped pgdata grown before (by this benchmark:
    // target/bench-downtime-*/template).
    try (LocalPostgres t =
        given.isEmpty()
            ? LocalPostgres.init(template, "opschain")
            : LocalPostgres.startExisting(template)) {
      if (given.isEmpty()) {
        grow(t, scale, randomMb);
      }
      size = t.sql("opschain", "SELECT pg_database_size('opschain')");
    }
    System.out.printf(
        "database: pgbench scale %d + %d MB of random hex text: %.2f GiB on disk (grown in %.0f s)%n",
        scale, randomMb, Long.parseLong(size) / (double) (1L << 30), secondsSince(t0));
    UpgradeEndToEndIT.legacyTemplate = template;
    UpgradeEndToEndIT.gateWaitSeconds = 3600;
    // -Drepeat=N: each run N times, each with the runbook's work measured alone right after it, so
    // every ratio pairs numbers from the same minutes (this machine's speed drifts between them).
    int repeat = Integer.getInteger("repeat", 1);
    Map<String, Double> baseline = new LinkedHashMap<>();
    for (String path : paths) {
      for (String mode : modes) {
        List<double[]> runs = new java.util.ArrayList<>();
        for (int i = 0; i < repeat; i++) {
          if (repeat > 1) {
            baseline.remove(path);
          }
          runs.add(run(path, mode, baseline));
        }
        if (repeat > 1) {
          summary(path, mode, runs);
        }
      }
    }
    System.out.println("done");
    System.exit(0);
  }

  /** One run: its downtime and the runbook's work alone with the data checks, in seconds. */
  private static double[] run(String path, String mode, Map<String, Double> baseline)
      throws Exception {
    String[] mf = mode.split("/");
    UpgradeEndToEndIT t = new UpgradeEndToEndIT();
    t.setUp();
    com.limepoint.opschain.dbupgrade.kube.Heartbeats.takeLargestGapMillis();
    Sampler sampler = new Sampler();
    try {
      boolean manual = path.equals("manual");
      if (manual) {
        t.box.importFails("FATAL: could not import database opschain (benchmark)");
        LocalPostgres.init(t.pvcPgdata, "opschain").close();
      } else {
        t.importsInto(db -> {});
      }
      DbUpgradeWorkflow wf = t.start(t.request(Map.of("backupMode", mf[0], "backupFormat", mf[1])));
      UpgradeEndToEndIT.approveByUpdate(wf, Gate.START, "alice");
      Instant startApproved = Instant.now();
      UpgradeEndToEndIT.approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
      if (manual) {
        UpgradeEndToEndIT.approveByUpdate(wf, Gate.MANUAL_RESTORE, "alice");
      }
      UpgradeEndToEndIT.approveBySignal(wf, Gate.SERVICES_VERIFIED, manual ? "bob" : "alice");
      UpgradeEndToEndIT.approveByUpdate(wf, Gate.FINALIZE, manual ? "alice" : "bob");
      UpgradeReport report =
          t.client.newUntypedWorkflowStub(UpgradeEndToEndIT.WF).getResult(UpgradeReport.class);
      sampler.stop();
      if (report.outcome() != Outcome.COMPLETED) {
        throw new IllegalStateException(path + " " + mode + ": " + report.reason());
      }
      if (t.cnpgDb != null) {
        t.cnpgDb.close();
        t.cnpgDb = null;
      }
      if (!baseline.containsKey(path)) {
        runbookAlone(t, manual, baseline, path);
      }
      return print(path, mode, report, startApproved, sampler, backupBytes(t), baseline.get(path));
    } finally {
      sampler.stop();
      t.close();
      UpgradeEndToEndIT.run(List.of("rm", "-rf", t.sandbox.toString()));
    }
  }

  /**
   * The runbook's work alone on the same legacy database, measured once per path: pg_basebackup -z
   * (as the runbook runs it) into a local directory, sha256sum of its files, and the import (CNPG's
   * import, pg_dump -Fd then pg_restore, into a new server) or the restore (tar -xzf of base and
   * WAL).
   */
  private static void runbookAlone(
      UpgradeEndToEndIT t, boolean manual, Map<String, Double> baseline, String path)
      throws IOException {
    Path dir = t.sandbox.resolve("runbook-alone");
    Files.createDirectories(dir);
    Path backup = dir.resolve("backup");
    long a = System.nanoTime();
    UpgradeEndToEndIT.run(
        List.of(
            LocalPostgres.BIN.resolve("pg_basebackup").toString(),
            "-h",
            "127.0.0.1",
            "-p",
            Integer.toString(t.legacy.port()),
            "-U",
            "opschain",
            "-D",
            backup.toString(),
            "-Ft",
            "-z",
            "--compress=6",
            "--wal-method=stream",
            "--checkpoint=fast"));
    double basebackup = secondsSince(a);
    long b = System.nanoTime();
    UpgradeEndToEndIT.run(
        List.of(
            "sha256sum",
            backup.resolve("base.tar.gz").toString(),
            backup.resolve("pg_wal.tar.gz").toString()));
    double sha = secondsSince(b);
    double work;
    if (manual) {
      Path pgdata = Files.createDirectories(dir.resolve("restored/pg_wal"));
      long c = System.nanoTime();
      UpgradeEndToEndIT.run(
          List.of(
              "tar",
              "-xzf",
              backup.resolve("base.tar.gz").toString(),
              "-C",
              pgdata.getParent() + ""));
      UpgradeEndToEndIT.run(
          List.of("tar", "-xzf", backup.resolve("pg_wal.tar.gz").toString(), "-C", pgdata + ""));
      work = secondsSince(c);
    } else {
      try (LocalPostgres target = LocalPostgres.init(dir.resolve("import/pgdata"), "opschain")) {
        long c = System.nanoTime();
        target.importFrom(t.legacy, "opschain");
        work = secondsSince(c);
      }
    }
    UpgradeEndToEndIT.run(List.of("rm", "-rf", dir.toString()));
    baseline.put(path, basebackup + sha + work);
    System.out.printf(
        "%s path, the runbook's work alone: pg_basebackup -z %.1f s, sha256sum %.1f s, %s %.1f s%n",
        path,
        basebackup,
        sha,
        manual ? "restore (tar -xzf)" : "import (CNPG's pg_dump -Fd, pg_restore, ANALYZE)",
        work);
  }

  private static long backupBytes(UpgradeEndToEndIT t) throws IOException {
    Path host = t.sandbox.resolve("host/backup");
    if (!Files.exists(host)) {
      return 0;
    }
    try (var files = Files.walk(host)) {
      return files
          .filter(Files::isRegularFile)
          .filter(p -> p.getFileName().toString().contains(".tar"))
          .filter(p -> !p.getFileName().toString().endsWith(".check"))
          .mapToLong(p -> p.toFile().length())
          .sum();
    }
  }

  private static double[] print(
      String path,
      String mode,
      UpgradeReport report,
      Instant startApproved,
      Sampler sampler,
      long bytes,
      double runbookWork) {
    System.out.printf("%n%s path, %s%n", path, mode);
    double checks = 0;
    Instant servicesUp = null;
    for (StepStatus s : report.steps()) {
      if (s.startedAt() == null || s.endedAt() == null) {
        continue;
      }
      Instant start = Instant.parse(s.startedAt());
      Instant end = Instant.parse(s.endedAt());
      double secs = Duration.between(start, end).toMillis() / 1000.0;
      System.out.printf("  %-28s %8.1f s%n", s.name(), secs);
      if (CHECKS.contains(s.name())) {
        checks += secs;
      }
      if (s.name().equals("awaitRollout")) {
        servicesUp = end;
      }
    }
    double downtime =
        servicesUp == null
            ? Double.NaN
            : Duration.between(startApproved, servicesUp).toMillis() / 1e3;
    double alone = runbookWork + checks;
    System.out.printf(
        "  backup on the host %.1f MB; largest heartbeat gap %.1f s; peak heap %d MB, peak RSS %d MB%n",
        bytes / 1e6,
        com.limepoint.opschain.dbupgrade.kube.Heartbeats.takeLargestGapMillis() / 1e3,
        sampler.heap >> 20,
        sampler.rss >> 20);
    System.out.printf(
        "  DOWNTIME %.1f s; runbook's work alone %.1f s (+ the data checks %.1f s = %.1f s);"
            + " ratio %.2f%n",
        downtime, runbookWork, checks, alone, downtime / alone);
    return new double[] {downtime, alone};
  }

  /** The medians of repeated runs, and each run's ratio. */
  private static void summary(String path, String mode, List<double[]> runs) {
    double[] down = runs.stream().mapToDouble(r -> r[0]).sorted().toArray();
    double[] alone = runs.stream().mapToDouble(r -> r[1]).sorted().toArray();
    String ratios =
        String.join(", ", runs.stream().map(r -> String.format("%.2f", r[0] / r[1])).toList());
    System.out.printf(
        "%n%s path, %s, %d runs: median downtime %.1f s (%.1f to %.1f), median runbook's work"
            + " alone with the checks %.1f s (%.1f to %.1f); ratios %s; ratio of the medians %.2f%n",
        path,
        mode,
        runs.size(),
        median(down),
        down[0],
        down[down.length - 1],
        median(alone),
        alone[0],
        alone[alone.length - 1],
        ratios,
        median(down) / median(alone));
  }

  private static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /** Grows the database: pgbench tables, then a table of random hex text in 1 KiB rows. */
  private static void grow(LocalPostgres db, int scale, int randomMb) throws Exception {
    com.limepoint.opschain.dbupgrade.bench.DataProofBenchmark.pgbench(db, scale);
    db.sql("opschain", "CREATE TABLE noise(id int PRIMARY KEY, t text NOT NULL)");
    int rows = randomMb * 1024;
    for (int from = 0; from < rows; from += 100_000) {
      db.sql(
          "opschain",
          "INSERT INTO noise SELECT g, (SELECT string_agg(md5(random()::text || g || i), '')"
              + " FROM generate_series(1, 32) i) FROM generate_series("
              + (from + 1)
              + ", "
              + Math.min(rows, from + 100_000)
              + ") g");
    }
    db.sql("opschain", "CHECKPOINT");
  }

  private static double secondsSince(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  /**
   * Once a second: this JVM's heap in use and its resident set (/proc/self/status). The heartbeat
   * gap comes from the worker itself (Heartbeats): the server sees heartbeats only as often as the
   * SDK sends them, 80 % of the heartbeat timeout.
   */
  static final class Sampler {
    volatile long heap;
    volatile long rss;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;

    Sampler() {
      thread =
          Thread.ofPlatform()
              .daemon()
              .start(() -> {
                while (!stop.get()) {
                  sample();
                  try {
                    Thread.sleep(1000);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              });
    }

    private void sample() {
      heap = Math.max(heap, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
      try {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
          if (line.startsWith("VmRSS:")) {
            rss = Math.max(rss, Long.parseLong(line.replaceAll("\\D", "")) << 10);
          }
        }
      } catch (IOException e) {
        // /proc is not there: no RSS.
      }
    }

    void stop() {
      stop.set(true);
    }
  }
}
