package com.limepoint.opschain.dbupgrade.devmode;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflowImpl;
import com.limepoint.opschain.dbupgrade.workflows.ManualRestoreWorkflowImpl;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityInfo;
import io.temporal.activity.DynamicActivity;
import io.temporal.api.common.v1.Payload;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.EncodedValues;
import io.temporal.common.converter.RawValue;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.worker.WorkerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The orchestration overhead (issue 18; not in CI: {@code bin/overhead [upgrades]}): the automatic
 * path's workflow on the embedded server ({@code temporal server start-dev}) with no-op activities,
 * each of which answers at once with what that step answered in the committed e2e history
 * (e2e-automatic), started one alone and then N at once, the gates approved by a client. Per step
 * (one scheduled activity to the next, where no gate or signal lies between), the milliseconds the
 * workflow, the server and the worker add: mean, p50, p95 and max.
 */
class OverheadBenchmark {
  private static final Path HISTORY =
      Path.of("..", "workflows", "src", "test", "resources", "histories", "e2e-automatic.json");
  private static final Map<Gate, String> APPROVER =
      Map.of(
          Gate.START, "alice",
          Gate.BACKUP_VERIFIED, "bob",
          Gate.SERVICES_VERIFIED, "alice",
          Gate.FINALIZE, "bob");

  @Test
  @Timeout(value = 30, unit = TimeUnit.MINUTES)
  @EnabledIfSystemProperty(named = "overhead.upgrades", matches = "\\d+")
  void theWorkflowAddsMillisecondsPerStep() throws Exception {
    int n = Integer.getInteger("overhead.upgrades");
    WorkflowExecutionHistory recorded =
        WorkflowExecutionHistory.fromJson(Files.readString(HISTORY));
    Path dir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("overhead-");
    Path cli =
        TemporalDevServer.find(null)
            .orElseThrow(() -> new AssertionError("no temporal CLI: bin/ensure-temporal"));
    int port = DevMode.freePort();
    TemporalDevServer server = new TemporalDevServer(cli, port, DevMode.freePort(), dir);
    server.start();
    WorkflowServiceStubs stubs =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget("localhost:" + port).build());
    try {
      WorkflowClient client = WorkflowClient.newInstance(stubs);
      WorkerFactory factory = WorkerFactory.newInstance(client);
      Replayed activities = new Replayed(recorded);
      for (String queue : activities.queues) {
        var w = factory.newWorker(queue);
        if (queue.equals(DbUpgradeWorkflow.TASK_QUEUE)) {
          w.registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class);
        }
        w.registerActivitiesImplementations(activities);
      }
      factory.start();
      Payload input =
          recorded
              .getEvents()
              .get(0)
              .getWorkflowExecutionStartedEventAttributes()
              .getInput()
              .getPayloads(0);
      print("1 upgrade alone", run(client, input, List.of("overhead-alone")));
      List<String> namespaces = new ArrayList<>();
      for (int i = 1; i <= n; i++) {
        namespaces.add(String.format("overhead-%02d", i));
      }
      print(n + " upgrades at once", run(client, input, namespaces));
      factory.shutdownNow();
    } finally {
      stubs.shutdownNow();
      server.close();
      com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(dir);
    }
  }

  /**
   * Starts one upgrade per namespace (the recorded request, its namespace replaced: the workflow id
   * must name it), approves their gates until all ended; each step's milliseconds.
   */
  private static List<Long> run(WorkflowClient client, Payload input, List<String> namespaces)
      throws Exception {
    List<String> ids = new ArrayList<>();
    for (String ns : namespaces) {
      var json = new com.fasterxml.jackson.databind.ObjectMapper();
      var request =
          (com.fasterxml.jackson.databind.node.ObjectNode)
              json.readTree(input.getData().toByteArray());
      request.put("namespace", ns);
      Payload p =
          input.toBuilder()
              .setData(com.google.protobuf.ByteString.copyFrom(json.writeValueAsBytes(request)))
              .build();
      String id = "opschain-db-upgrade-" + ns;
      ids.add(id);
      client
          .newUntypedWorkflowStub(
              "DbUpgradeWorkflow",
              WorkflowOptions.newBuilder()
                  .setWorkflowId(id)
                  .setTaskQueue(DbUpgradeWorkflow.TASK_QUEUE)
                  .build())
          .start(new RawValue(p));
    }
    Set<String> open = new LinkedHashSet<>(ids);
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(20);
    while (!open.isEmpty() && System.nanoTime() < deadline) {
      for (String id : List.copyOf(open)) {
        DbUpgradeWorkflow wf = client.newWorkflowStub(DbUpgradeWorkflow.class, id);
        UpgradeStatus s = wf.status();
        if (s.phase().name().matches("COMPLETED|ABORTED|FAILED")) {
          assertThat(s.phase().name()).as(id + ": " + s.message()).isEqualTo("COMPLETED");
          open.remove(id);
        } else if (s.openGate() != null) {
          Gate g = s.openGate().gate();
          assertThat(APPROVER).as(id + ": gate " + g + ": " + s.message()).containsKey(g);
          wf.approveGate(new GateDecision(g.name(), APPROVER.get(g), "checked"));
        }
      }
      Thread.sleep(50);
    }
    assertThat(open).as("still running").isEmpty();
    List<Long> steps = new ArrayList<>();
    for (String id : ids) {
      client.newUntypedWorkflowStub(id).getResult(30, TimeUnit.SECONDS, Object.class);
      steps.addAll(stepMillis(client.fetchHistory(id)));
    }
    return steps;
  }

  /**
   * One scheduled activity to the next: the no-op activity's round trip through the server and the
   * worker, and the workflow task that schedules the next. Intervals with a signal or an update
   * between them (a gate, the progress signals) are a person's or a client's time, left out.
   */
  static List<Long> stepMillis(WorkflowExecutionHistory h) {
    List<Long> out = new ArrayList<>();
    long last = -1;
    boolean outside = false;
    for (HistoryEvent e : h.getEvents()) {
      long at = e.getEventTime().getSeconds() * 1000 + e.getEventTime().getNanos() / 1_000_000;
      if (e.hasWorkflowExecutionSignaledEventAttributes()
          || e.hasWorkflowExecutionUpdateAcceptedEventAttributes()
          || e.hasTimerStartedEventAttributes()) {
        outside = true;
      }
      if (e.hasActivityTaskScheduledEventAttributes()) {
        if (last >= 0 && !outside) {
          out.add(at - last);
        }
        last = at;
        outside = false;
      }
    }
    return out;
  }

  private static void print(String what, List<Long> steps) {
    List<Long> s = new ArrayList<>(steps);
    Collections.sort(s);
    double mean = s.stream().mapToLong(Long::longValue).average().orElse(0);
    System.out.printf(
        "%noverhead, %s: %d steps measured; ms per step: mean %.1f, p50 %d, p95 %d, max %d%n",
        what,
        s.size(),
        mean,
        s.get(s.size() / 2),
        s.get((int) Math.min(s.size() - 1, Math.round(s.size() * 0.95))),
        s.get(s.size() - 1));
  }

  /** Every activity: answers at once with that step's result in the recorded history. */
  static final class Replayed implements DynamicActivity {
    final Set<String> queues = new LinkedHashSet<>();
    private final Map<String, List<List<Payload>>> results = new HashMap<>();
    private final Map<String, List<String>> seen = new ConcurrentHashMap<>();

    Replayed(WorkflowExecutionHistory h) {
      queues.add(DbUpgradeWorkflow.TASK_QUEUE);
      Map<Long, String> typeOf = new HashMap<>();
      for (HistoryEvent e : h.getEvents()) {
        if (e.hasActivityTaskScheduledEventAttributes()) {
          var a = e.getActivityTaskScheduledEventAttributes();
          typeOf.put(e.getEventId(), a.getActivityType().getName());
          queues.add(a.getTaskQueue().getName());
        } else if (e.hasActivityTaskCompletedEventAttributes()) {
          var c = e.getActivityTaskCompletedEventAttributes();
          results
              .computeIfAbsent(typeOf.get(c.getScheduledEventId()), k -> new ArrayList<>())
              .add(c.getResult().getPayloadsList());
        }
      }
    }

    @Override
    public Object execute(EncodedValues args) {
      ActivityInfo info = Activity.getExecutionContext().getInfo();
      List<String> ids =
          seen.computeIfAbsent(
              info.getWorkflowId() + "/" + info.getActivityType(), k -> new ArrayList<>());
      int k;
      synchronized (ids) {
        if (!ids.contains(info.getActivityId())) {
          ids.add(info.getActivityId());
        }
        k = ids.indexOf(info.getActivityId());
      }
      List<Payload> result = results.get(info.getActivityType()).get(k);
      return result.isEmpty() ? null : new RawValue(result.get(0));
    }
  }
}
