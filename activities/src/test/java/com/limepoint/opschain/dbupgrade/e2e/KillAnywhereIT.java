package com.limepoint.opschain.dbupgrade.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.e2e.WorkerKiller.Target;
import com.limepoint.opschain.dbupgrade.e2e.WorkerKiller.When;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.testkit.ChartReleases;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.api.enums.v1.TaskQueueKind;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.common.WorkflowExecutionHistory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Kill anywhere, in process (issue 18): for every activity the automatic path and the manual
 * restore path schedule (read from their committed e2e histories, so a new step is covered without
 * editing this test), the worker is stopped hard in the middle of it, and separately right after it
 * completed, and a new worker with a new identity takes over (see {@link WorkerKiller}). Every run
 * must end as the undisturbed one does, with every effect once: COMPLETED; every row and the
 * content checksum; one deployed Helm revision per deploy step and none left pending; one restart
 * per deployment; one verified backup and never two pg_basebackups at once; no scratch pod; and no
 * workflow task ever sent to a sticky queue (the Java test server would strand it on the dead
 * worker's). The table of activity × outcome is printed at the end. {@code -Dkill.only=TakeBackup}
 * runs the cases whose step matches.
 */
class KillAnywhereIT {
  private static final List<String> TABLE = Collections.synchronizedList(new ArrayList<>());
  private static final String HISTORIES = "../workflows/src/test/resources/histories/";

  /** One case: the path, the step's label in history, the activity, and where it dies. */
  static Stream<Arguments> cases() throws IOException {
    List<Arguments> out = new ArrayList<>();
    Set<String> automaticTypes = new java.util.HashSet<>();
    for (var s : steps("e2e-automatic", "DbUpgradeWorkflow")) {
      automaticTypes.add(s.target().activityType());
      out.add(Arguments.of("automatic", s.label(), s.target()));
    }
    // The manual path: the parent's steps the automatic path does not have, then the child's.
    for (var s : steps("e2e-manual-restore-parent", "DbUpgradeWorkflow")) {
      if (!automaticTypes.contains(s.target().activityType())) {
        out.add(Arguments.of("manual", s.label(), s.target()));
      }
    }
    for (var s : steps("e2e-manual-restore-child", "ManualRestoreWorkflow")) {
      out.add(Arguments.of("manual", s.label(), s.target()));
    }
    String only = System.getProperty("kill.only", "");
    return out.stream()
        .filter(a ->
            only.isEmpty()
                || a.get()[1].toString().contains(only)
                || ((Target) a.get()[2]).activityType().contains(only))
        .flatMap(
            a -> whens().stream().map(w -> Arguments.of(a.get()[0], a.get()[1], a.get()[2], w)));
  }

  /**
   * Where the worker dies: {@code -Dkill.when=MID} or {@code AFTER} runs that half of the matrix;
   * unset or {@code all}, both. On the real control plane a case takes about 40 s, so bin/test (and
   * CI) runs the MID half, every activity killed in the middle of its work; the AFTER half runs
   * with {@code -Dkill.when=AFTER} (docs/development.md).
   */
  static List<When> whens() {
    String w = System.getProperty("kill.when", "all");
    return w.isBlank() || w.equalsIgnoreCase("all")
        ? List.of(When.MID, When.AFTER)
        : List.of(When.valueOf(w.toUpperCase(java.util.Locale.ROOT)));
  }

  record Step(String label, Target target) {}

  /** Every activity type of both paths. */
  private static final Set<String> ACTIVITY_TYPES = activityTypes();

  private static Set<String> activityTypes() {
    try {
      Set<String> types = new java.util.TreeSet<>();
      for (String h :
          List.of("e2e-automatic", "e2e-manual-restore-parent", "e2e-manual-restore-child")) {
        steps(h, "").forEach(s -> types.add(s.target().activityType()));
      }
      return types;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Each scheduled activity of a committed history: its summary, type and run of that type. */
  static List<Step> steps(String history, String workflowType) throws IOException {
    var h =
        WorkflowExecutionHistory.fromJson(Files.readString(Path.of(HISTORIES + history + ".json")));
    Map<String, Integer> runs = new HashMap<>();
    List<Step> steps = new ArrayList<>();
    for (HistoryEvent e : h.getEvents()) {
      if (!e.hasActivityTaskScheduledEventAttributes()) {
        continue;
      }
      String type = e.getActivityTaskScheduledEventAttributes().getActivityType().getName();
      int n = runs.merge(type, 1, Integer::sum);
      String summary = e.getUserMetadata().getSummary().getData().toStringUtf8();
      steps.add(new Step(label(type, n, summary), new Target(workflowType, type, n)));
    }
    return steps;
  }

  /** "Upgrade#2 (upgradeRelease)": the type, its run, and the step a Helm summary names. */
  private static String label(String type, int n, String summary) {
    int open = summary.lastIndexOf('(');
    String step = open > 0 ? " " + summary.substring(open).replace("\"", "") : "";
    return type + "#" + n + step;
  }

  @ParameterizedTest(name = "{0} {1} {3}")
  @MethodSource("cases")
  @Timeout(300)
  void theWorkerKilledThereTheUpgradeEndsAsAnUndisturbedOneWithEveryEffectOnce(
      String path, String label, Target target, When when) throws Exception {
    com.limepoint.opschain.dbupgrade.testkit.Required.postgres();
    UpgradeEndToEndIT t = new UpgradeEndToEndIT();
    WorkerKiller killer = new WorkerKiller(t, target, when, ACTIVITY_TYPES);
    t.workers = killer::startFirst;
    t.stopWorkers = killer::close;
    // A task the dead worker had taken is handed out again after this (Temporal's default: 10 s).
    t.workflowTaskTimeout = java.time.Duration.ofSeconds(3);
    long t0 = System.nanoTime();
    boolean manual = path.equals("manual");
    t.setUp();
    try {
      if (manual) {
        t.box.importFails("FATAL: could not import database opschain");
        LocalPostgres.init(t.pvcPgdata, "opschain").close();
      } else {
        t.importsInto(db -> {});
      }
      DbUpgradeWorkflow wf = t.start();
      UpgradeEndToEndIT.approveByUpdate(wf, Gate.START, "alice");
      UpgradeEndToEndIT.approveBySignal(wf, Gate.BACKUP_VERIFIED, "bob");
      if (manual) {
        UpgradeEndToEndIT.approveByUpdate(wf, Gate.MANUAL_RESTORE, "alice");
      }
      UpgradeEndToEndIT.approveBySignal(wf, Gate.SERVICES_VERIFIED, manual ? "bob" : "alice");
      UpgradeEndToEndIT.approveByUpdate(wf, Gate.FINALIZE, manual ? "alice" : "bob");
      UpgradeReport report =
          t.client.newUntypedWorkflowStub(UpgradeEndToEndIT.WF).getResult(UpgradeReport.class);
      double secs = (System.nanoTime() - t0) / 1e9;
      TABLE.add(
          String.format(
              "%-9s %-44s %-5s %-9s %5.1f s  %s",
              path, label, when, report.outcome(), secs, killer.how()));

      assertThat(killer.fired()).as("the worker was killed at " + label).isTrue();
      assertThat(report.outcome()).as(report.reason()).isEqualTo(Outcome.COMPLETED);
      everyEffectOnce(t, manual, report);
    } finally {
      try {
        t.tearDown();
      } finally {
        killer.releaseHeld();
      }
    }
  }

  private static void everyEffectOnce(UpgradeEndToEndIT t, boolean manual, UpgradeReport report)
      throws IOException {
    LocalPostgres db = manual ? t.box.cnpgInstance(UpgradeEndToEndIT.NS, "opschain-db") : t.cnpgDb;
    assertThat(db.sql("opschain", UpgradeEndToEndIT.COUNT)).isEqualTo(t.rowsBefore);
    assertThat(db.sql("opschain", UpgradeEndToEndIT.SUM)).isEqualTo(t.sumBefore);
    List<ChartReleases.Revision> revisions = t.history();
    assertThat(revisions.get(revisions.size() - 1).status()).isEqualTo("deployed");
    Map<String, Long> deployedPerStep =
        ChartReleases.deployedPerStep(revisions, UpgradeEndToEndIT.WF);
    assertThat(deployedPerStep)
        .containsOnlyKeys(
            manual
                ? new String[] {
                  "stopOpsChain",
                  "upgradeRelease",
                  "redeployStopped",
                  "redeployWithoutStopDatabase",
                  "redeployRunning",
                  "finalizeUpgrade"
                }
                : new String[] {"stopOpsChain", "upgradeRelease", "finalizeUpgrade"});
    assertThat(deployedPerStep.values())
        .as("deployed revisions per step " + deployedPerStep)
        .allMatch(n -> n == 1);
    for (String s : List.of("opschain-api", "opschain-api-worker", "opschain-log-aggregator")) {
      assertThat(t.box.restarts(UpgradeEndToEndIT.NS, s)).as("restarts of " + s).isEqualTo(1);
    }
    assertThat(report.backup().passesVerification()).isTrue();
    try (Stream<Path> runs =
        Files.list(t.sandbox.resolve("host/backup").resolve(UpgradeEndToEndIT.WF))) {
      assertThat(runs.filter(Files::isDirectory).count()).as("backups taken").isEqualTo(1);
    }
    assertThat(t.box.maxConcurrent("pg_basebackup")).isLessThanOrEqualTo(1);
    assertThat(t.box.scratchPodsLeft()).isEmpty();
    for (String id : List.of(UpgradeEndToEndIT.WF, UpgradeEndToEndIT.WF + "-manual-restore")) {
      if (!manual && id.endsWith("-manual-restore")) {
        continue;
      }
      assertThat(t.client.fetchHistory(id).getEvents())
          .filteredOn(HistoryEvent::hasWorkflowTaskScheduledEventAttributes)
          .as("workflow tasks of " + id + " on a sticky queue")
          .noneMatch(e ->
              e.getWorkflowTaskScheduledEventAttributes().getTaskQueue().getKind()
                  == TaskQueueKind.TASK_QUEUE_KIND_STICKY);
    }
  }

  @AfterAll
  static void printTable() {
    System.out.printf(
        "%nkill anywhere: %d runs%n%-9s %-44s %-5s %-9s %7s  %s%n",
        TABLE.size(), "path", "activity (run, step)", "when", "outcome", "wall", "killed");
    TABLE.forEach(System.out::println);
  }
}
