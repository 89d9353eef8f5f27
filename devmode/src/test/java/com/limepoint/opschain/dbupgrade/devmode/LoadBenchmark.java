package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.UpgradeReport;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The load benchmark (issue 18; not in CI: {@code bin/load [upgrades]}): N OpsChains in the demo
 * cluster, each in its own namespace with a simulated database, N upgrades started at once on one
 * production-mode worker process inside a memory cgroup at the deployment's limit (1 GiB, {@code
 * deploy/worker.yaml}) with the image's JVM flags, the four gates approved by a client as they
 * open. Prints the wall time, upgrades per minute, the worker's peak RSS (VmHWM) and the cgroup's
 * peak, and the largest wait of an activity for a worker slot (schedule to start, from history).
 * Helm runs in the worker (the demo chart's releases, {@code OPSCHAIN_DEMO_CHART}): the harness's
 * API server cannot serve Helm's own client, so Helm processes are not part of these numbers.
 */
class LoadBenchmark {
  private static final Set<Gate> GATES =
      EnumSet.of(Gate.START, Gate.BACKUP_VERIFIED, Gate.SERVICES_VERIFIED, Gate.FINALIZE);
  private static final long LIMIT = 1L << 30;

  /** The image's JVM flags (image/pom.xml), which size the heap from the cgroup's limit. */
  private static final List<String> IMAGE_FLAGS =
      List.of(
          "-XX:+UseSerialGC",
          "-XX:MaxRAMPercentage=60",
          "-XX:MaxNewSize=32m",
          "-XX:+UseCompactObjectHeaders",
          "-XX:MinHeapFreeRatio=10",
          "-XX:MaxHeapFreeRatio=20",
          "-XX:TrimNativeHeapInterval=5000",
          "-XX:+ExitOnOutOfMemoryError");

  @Test
  @Timeout(value = 60, unit = TimeUnit.MINUTES)
  @EnabledIfSystemProperty(named = "load.upgrades", matches = "\\d+")
  void upgradesStartedAtOnceOnOneWorkerInsideItsMemoryLimitAllComplete() throws Exception {
    int n = Integer.getInteger("load.upgrades");
    Path cgroup = Path.of("/sys/fs/cgroup/memory/opschain-load-" + ProcessHandle.current().pid());
    Files.createDirectories(cgroup);
    Files.writeString(cgroup.resolve("memory.limit_in_bytes"), Long.toString(LIMIT));
    List<String> launcher =
        List.of("sh", "-c", "echo $$ >\"$0/cgroup.procs\"; exec \"$@\"", cgroup.toString());
    try (DevMode dev =
        DevMode.start(
            "load-",
            Map.of(
                "opschain.dev-worker", false,
                "opschain.demo-simulated", true,
                "micronaut.server.port", -1))) {
      DemoCluster demo = dev.context().getBean(DemoCluster.class);
      List<String> namespaces = new ArrayList<>();
      Map<String, Path> requests = new HashMap<>();
      for (int i = 1; i <= n; i++) {
        String ns = String.format("opschain-%02d", i);
        namespaces.add(ns);
        requests.put(ns, demo.addOpsChain(ns));
      }
      Process worker = dev.worker(demo, "load", launcher, IMAGE_FLAGS);
      WorkflowServiceStubs stubs =
          WorkflowServiceStubs.newServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(dev.target()).build());
      try {
        WorkflowClient client = WorkflowClient.newInstance(stubs);
        long t0 = System.nanoTime();
        for (String ns : namespaces) {
          UpgradeRequest r =
              new ObjectMapper().readValue(requests.get(ns).toFile(), UpgradeRequest.class);
          DbUpgradeWorkflow wf =
              client.newWorkflowStub(
                  DbUpgradeWorkflow.class,
                  WorkflowOptions.newBuilder()
                      .setWorkflowId(id(ns))
                      .setTaskQueue(DbUpgradeWorkflow.TASK_QUEUE)
                      .build());
          WorkflowClient.start(wf::run, r);
        }
        long peakRss = approveUntilAllEnded(client, namespaces, worker);
        double secs = (System.nanoTime() - t0) / 1e9;
        int completed = 0;
        for (String ns : namespaces) {
          UpgradeReport report =
              client
                  .newUntypedWorkflowStub(id(ns))
                  .getResult(60, TimeUnit.SECONDS, UpgradeReport.class);
          if (report.outcome().name().equals("COMPLETED")) {
            completed++;
          }
        }
        long largestWaitMs = largestScheduleToStart(client, namespaces);
        long cgroupPeak =
            Long.parseLong(Files.readString(cgroup.resolve("memory.max_usage_in_bytes")).strip());
        long failcnt = Long.parseLong(Files.readString(cgroup.resolve("memory.failcnt")).strip());
        System.out.printf(
            "%nload: %d of %d upgrades COMPLETED in %.1f s (%.1f upgrades per minute) on one worker"
                + " in a %d MiB cgroup%n  worker peak RSS (VmHWM) %d MiB; cgroup peak %d MiB"
                + " (page cache included), limit hits %d%n  largest activity wait for a worker"
                + " slot (schedule to start) %d ms%n",
            completed,
            n,
            secs,
            completed / secs * 60,
            LIMIT >> 20,
            peakRss >> 20,
            cgroupPeak >> 20,
            failcnt,
            largestWaitMs);
        assertThat(worker.isAlive()).as("the worker is alive (not OOM-killed)").isTrue();
        assertThat(completed).isEqualTo(n);
      } finally {
        stubs.shutdownNow();
        worker.destroy();
        worker.waitFor(30, TimeUnit.SECONDS);
      }
    } finally {
      Files.deleteIfExists(cgroup);
    }
  }

  private static String id(String ns) {
    return "opschain-db-upgrade-" + ns;
  }

  /** Approves each gate as it opens, until every workflow ended; the worker's peak RSS. */
  private static long approveUntilAllEnded(
      WorkflowClient client, List<String> namespaces, Process worker) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(50);
    Set<String> open = new java.util.TreeSet<>(namespaces);
    long peak = 0;
    while (!open.isEmpty() && System.nanoTime() < deadline) {
      for (String ns : List.copyOf(open)) {
        WorkflowStub stub = client.newUntypedWorkflowStub(id(ns));
        var described = stub.describe();
        if (described.getStatus()
            != io.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
          open.remove(ns);
          continue;
        }
        DbUpgradeWorkflow wf = client.newWorkflowStub(DbUpgradeWorkflow.class, id(ns));
        UpgradeStatus s;
        try {
          s = wf.status();
        } catch (RuntimeException e) {
          continue; // the workflow task is being retried: asked again next round
        }
        if (s.openGate() != null) {
          Gate g = s.openGate().gate();
          assertThat(GATES).as(ns + ": gate " + g + " opened: " + s.message()).contains(g);
          try {
            wf.approveGate(new GateDecision(g.name(), "alice", "checked"));
          } catch (RuntimeException e) {
            // approved meanwhile, or the gate closed: asked again next round
          }
        }
      }
      peak = Math.max(peak, hwm(worker));
      Thread.sleep(1_000);
    }
    assertThat(open).as("upgrades still running after 50 minutes").isEmpty();
    return Math.max(peak, hwm(worker));
  }

  /** The worker JVM's peak RSS (VmHWM; the launcher execs into it, so the pid is the JVM's). */
  private static long hwm(Process worker) throws java.io.IOException {
    Path status = Path.of("/proc", Long.toString(worker.pid()), "status");
    if (!Files.exists(status)) {
      return 0;
    }
    return Files.readAllLines(status).stream()
            .filter(l -> l.startsWith("VmHWM:"))
            .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")))
            .findFirst()
            .orElse(0)
        * 1024;
  }

  /**
   * The largest time an activity task waited for a worker (ActivityTaskStarted − Scheduled, first
   * attempts).
   */
  private static long largestScheduleToStart(WorkflowClient client, List<String> namespaces) {
    long largest = 0;
    for (String ns : namespaces) {
      Map<Long, Long> scheduled = new HashMap<>();
      for (HistoryEvent e : client.fetchHistory(id(ns)).getEvents()) {
        long at = e.getEventTime().getSeconds() * 1000 + e.getEventTime().getNanos() / 1_000_000;
        if (e.hasActivityTaskScheduledEventAttributes()) {
          scheduled.put(e.getEventId(), at);
        } else if (e.hasActivityTaskStartedEventAttributes()
            && e.getActivityTaskStartedEventAttributes().getAttempt() == 1) {
          // A retried activity's started event is its last attempt's: its wait includes the
          // retries' back-off, not only the queue.
          Long s = scheduled.get(e.getActivityTaskStartedEventAttributes().getScheduledEventId());
          if (s != null) {
            largest = Math.max(largest, at - s);
          }
        }
      }
    }
    return largest;
  }
}
