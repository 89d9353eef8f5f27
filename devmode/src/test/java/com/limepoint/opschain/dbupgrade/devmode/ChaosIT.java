package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Chaos across processes, on the real server: the dev mode without its worker ({@code temporal
 * server start-dev} and the demo cluster with its real PostgreSQL), a production-mode worker
 * process, and one upgrade driven by a client that approves the four gates. It holds a gate until
 * its share of the kills has landed (START a quarter, BACKUP_VERIFIED half, SERVICES_VERIFIED three
 * quarters, FINALIZE all), as a person reading the evidence takes a while: every kill lands inside
 * the upgrade, which without kills ends in about a minute on the demo's database. The worker is
 * killed with SIGKILL at seeded random moments and a new one started each time; once, halfway, the
 * dev server itself is stopped and started on its database file. The upgrade must complete as an
 * undisturbed one does: every row moved, every step done, one deployed Helm revision per deploy
 * step, never two pg_basebackups at once, no scratch pod left. CI runs {@value #CI_KILLS} kills;
 * {@code bin/chaos 30} runs thirty ({@code -Dchaos.kills}, {@code -Dchaos.seed}).
 *
 * <p>It found two stalls, both fixed: a Helm call and this test's own approval loop parked on the
 * common pool, which on JDK 25 with two CPUs has one worker that the JDK HTTP client needs for
 * every answer (HelmActivitiesImpl.CALLS); and fabric8's mock server blocking its event loop for up
 * to a minute when a killed worker's watch closed (WatchClose).
 */
class ChaosIT {
  static final int CI_KILLS = 5;
  private static final Set<Gate> EXPECTED_GATES =
      EnumSet.of(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE);

  /** The gates in the order they open: the i-th is held until i quarters of the kills landed. */
  private static final List<Gate> GATE_ORDER =
      List.of(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE);

  private static final Set<String> ENDED = Set.of("COMPLETED", "ABORTED", "FAILED");

  /** One kill: when, and what the workflow was doing. */
  record Kill(int n, double atSeconds, String running, String gate) {}

  @Test
  @Timeout(value = 40, unit = TimeUnit.MINUTES)
  void theWorkerKilledAtSeededMomentsAndTheServerRestartedOnceTheUpgradeStillCompletes()
      throws Exception {
    int kills = Integer.getInteger("chaos.kills", CI_KILLS);
    long seed = Long.getLong("chaos.seed", 20261128L);
    DevMode.require(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
    try (DevMode dev =
            DevMode.start(
                "chaos-", Map.of("opschain.dev-worker", false, "micronaut.server.port", -1));
        Upgrades upgrade = new Upgrades(dev.target())) {
      DevTemporalServer server = dev.context().getBean(DevTemporalServer.class);
      DevMode.require(server.real(), "no temporal CLI here: bin/ensure-temporal installs it");
      DemoCluster demo = dev.context().getBean(DemoCluster.class);
      String rowsBefore = demo.rows();
      Random random = new Random(seed);
      AtomicReference<Process> worker = new AtomicReference<>(dev.worker(demo, "w0"));
      long t0 = System.nanoTime();
      upgrade.start(dev.demoDir().resolve("request.json"));
      java.util.concurrent.atomic.AtomicInteger landed =
          new java.util.concurrent.atomic.AtomicInteger();
      CompletableFuture<UpgradeReport> result =
          // Not on the common pool: with two CPUs it has one worker, which the JDK HTTP client
          // needs to complete every request of the harness in this JVM.
          CompletableFuture.supplyAsync(
              () -> approveUntilEnded(upgrade, landed, kills),
              java.util.concurrent.Executors.newSingleThreadExecutor(
                  r -> Thread.ofPlatform().daemon().name("chaos-approver").unstarted(r)));
      Thread watchdog = dumpThreadsWhileStalled(result, dev.demoDir());
      List<Kill> done = new ArrayList<>();
      try {
        for (int k = 1; k <= kills && !result.isDone(); k++) {
          // Between 2 and 12 s after the last worker started: inside activities, between them,
          // and while gates wait.
          Thread.sleep(2_000 + random.nextInt(10_000));
          if (result.isDone()) {
            break;
          }
          UpgradeStatus s = upgrade.statusOrNull();
          Process p = worker.get();
          p.destroyForcibly();
          assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
          done.add(new Kill(k, (System.nanoTime() - t0) / 1e9, running(s), gate(s)));
          landed.incrementAndGet();
          if (k == (kills + 1) / 2) {
            server.restart();
          }
          worker.set(dev.worker(demo, "w" + k));
        }
        UpgradeReport report = result.get(30, TimeUnit.MINUTES);
        print(seed, done, (System.nanoTime() - t0) / 1e9, report);
        demo.releases()
            .history(DemoCluster.NAMESPACE, "opschain")
            .forEach(r ->
                System.out.printf(
                    "helm revision %d %-10s %s%n", r.revision(), r.status(), r.description()));

        assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
        assertThat(report.backup().passesVerification()).isTrue();
        assertThat(demo.rows()).isEqualTo(rowsBefore);
        assertThat(report.steps()).allSatisfy(s -> assertThat(s.state()).isEqualTo(StepState.DONE));
        // Effects once: stopped, upgraded, finalized, each deployed once (a Helm call killed
        // mid-upgrade leaves a failed revision and its retry's rollback in history as well).
        var history = demo.releases().history(DemoCluster.NAMESPACE, "opschain");
        assertThat(history.get(history.size() - 1).status()).isEqualTo("deployed");
        assertThat(
                com.limepoint.opschain.dbupgrade.testkit.ChartReleases.deployedPerStep(
                    history, Upgrades.WORKFLOW_ID))
            .containsExactlyEntriesOf(
                new java.util.TreeMap<>(
                    Map.of("stopOpsChain", 1L, "upgradeRelease", 1L, "finalizeUpgrade", 1L)));
        assertThat(demo.box().maxConcurrent("pg_basebackup")).isLessThanOrEqualTo(1);
        for (String d : List.of("opschain-api", "opschain-api-worker", "opschain-log-aggregator")) {
          assertThat(demo.box().restarts(DemoCluster.NAMESPACE, d))
              .as("restarts of " + d)
              .isEqualTo(1);
        }
        assertThat(scratchPods(demo)).as("no rehearsal or restore pod left").isEmpty();
        // Last: a run that ends early still had its effects checked above.
        assertThat(done).as("every kill landed before the upgrade ended").hasSize(kills);
      } finally {
        watchdog.interrupt();
        Process p = worker.get();
        p.destroy();
        p.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Every 60 s until the upgrade ends, all threads of this JVM (virtual ones too, which jstack and
   * jhsdb do not show) into {@code threads-N.txt} beside the demo: what the harness was doing when
   * a run stalls.
   */
  private static Thread dumpThreadsWhileStalled(
      CompletableFuture<?> result, java.nio.file.Path dir) {
    return Thread.ofPlatform()
        .daemon()
        .name("chaos-thread-dumps")
        .start(() -> {
          var bean =
              java.lang.management.ManagementFactory.getPlatformMXBean(
                  com.sun.management.HotSpotDiagnosticMXBean.class);
          for (int n = 1; !result.isDone(); n++) {
            try {
              Thread.sleep(60_000);
              bean.dumpThreads(
                  dir.resolve("threads-" + n + ".txt").toString(),
                  com.sun.management.HotSpotDiagnosticMXBean.ThreadDumpFormat.TEXT_PLAIN);
            } catch (InterruptedException e) {
              return;
            } catch (java.io.IOException e) {
              System.err.println("thread dump: " + e);
            }
          }
        });
  }

  /**
   * Approves each expected gate once its share of the {@code kills} has {@code landed}, until the
   * workflow ends; fails on any other gate.
   */
  private static UpgradeReport approveUntilEnded(
      Upgrades upgrade, java.util.concurrent.atomic.AtomicInteger landed, int kills) {
    try {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
      while (System.nanoTime() < deadline) {
        UpgradeStatus s = upgrade.statusOrNull();
        if (s != null && ENDED.contains(String.valueOf(s.phase()))) {
          break;
        }
        if (s != null && s.openGate() != null) {
          Gate g = s.openGate().gate();
          if (!EXPECTED_GATES.contains(g)) {
            throw new AssertionError("gate " + g + " opened: " + s.message());
          }
          if (landed.get() >= kills * (GATE_ORDER.indexOf(g) + 1) / GATE_ORDER.size()) {
            upgrade.tryApprove(g);
          }
        }
        Thread.sleep(500);
      }
      return upgrade.result(Duration.ofMinutes(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (AssertionError e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String running(UpgradeStatus s) {
    if (s == null) {
      return "(no answer)";
    }
    String r =
        s.steps().stream()
            .filter(x -> x.state() == StepState.RUNNING)
            .map(StepStatus::name)
            .collect(Collectors.joining(","));
    return r.isEmpty() ? "-" : r;
  }

  private static String gate(UpgradeStatus s) {
    return s == null || s.openGate() == null ? "-" : s.openGate().gate().name();
  }

  private static List<String> scratchPods(DemoCluster demo) {
    return demo
        .activityClient()
        .pods()
        .inNamespace(DemoCluster.NAMESPACE)
        .list()
        .getItems()
        .stream()
        .map(p -> p.getMetadata().getName())
        .filter(n -> n.contains("rehearsal") || n.contains("restore"))
        .toList();
  }

  private static void print(long seed, List<Kill> kills, double secs, UpgradeReport report) {
    System.out.printf(
        "%nchaos: seed %d, %d kills, %s in %.1f s%n", seed, kills.size(), report.outcome(), secs);
    System.out.printf("%4s %8s  %-28s %s%n", "kill", "at s", "running", "open gate");
    for (Kill k : kills) {
      System.out.printf("%4d %8.1f  %-28s %s%n", k.n(), k.atSeconds(), k.running(), k.gate());
    }
  }
}
