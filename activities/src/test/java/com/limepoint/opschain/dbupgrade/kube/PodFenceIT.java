package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fence's own edges, on the harness's pod (local processes): a fence folder that an earlier
 * retry renamed and was cut off before stopping its holder, and a later attempt's folder.
 */
class PodFenceIT {
  static final String NS = "opschain";
  static final String POD = "opschain-db-7d9f";

  Path dir;
  RealCluster box;
  PodFence fence;
  Process holder;

  @BeforeEach
  void setUp() throws Exception {
    dir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("fence-edges-");
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    box = new RealCluster(NS);
    box.runPod(NS, POD, Map.of("app", "opschain-db"), 0);
    fence = new PodFence(new PodExec(box.activityClient()));
  }

  @AfterEach
  void tearDown() {
    if (holder != null) {
      holder.destroyForcibly();
    }
    box.close();
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(dir);
  }

  @Test
  void aRenamedFolderWhoseHolderStillRunsIsStoppedAndRemoved() throws Exception {
    // Attempt 1 runs a fenced command; attempt 2 renamed its folder and died before stopping it.
    Files.createDirectories(dir.resolve("attempt-1"));
    String named = dir + "/attempt-1/.lock";
    holder =
        new ProcessBuilder(PodCommands.fenced(named, List.of("sleep", "300")))
            .redirectErrorStream(true)
            .start();
    Path lock = dir.resolve("attempt-1/.lock");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!Files.exists(lock) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    Thread.sleep(200);
    Files.move(dir.resolve("attempt-1"), dir.resolve("stopped-attempt-1-by-2"));

    // Outside an activity this is attempt 1; what matters is that the leftover is dealt with.
    PodFence.Fence f = fence.begin(NS, POD, dir.toString());

    assertThat(holder.waitFor(10, TimeUnit.SECONDS)).as("the holder was stopped").isTrue();
    assertThat(f.stopped()).singleElement().asString().contains(named, "SIGTERM");
    assertThat(dir.resolve("stopped-attempt-1-by-2")).doesNotExist();
    assertThat(f.lock()).isEqualTo(dir + "/attempt-1/.lock");
  }

  @Test
  void anAttemptThatFindsALaterOneStopsWithoutChangingAnything() throws Exception {
    Files.createDirectories(dir.resolve("attempt-5"));

    assertThatThrownBy(() -> fence.begin(NS, POD, dir.toString()))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            e -> assertThat(e.getOriginalMessage()).contains("attempt 5", "attempt 1 stops"));
    assertThat(dir.resolve("attempt-5")).isDirectory();
    assertThat(dir.resolve("attempt-1")).doesNotExist();
  }

  /** One call of the fence inside an activity, so that it has an attempt and a scheduled time. */
  @io.temporal.activity.ActivityInterface
  public interface FenceStep {
    String begin(String fenceDir);
  }

  String beginAs(int attempt, long scheduledMillis) {
    io.temporal.testing.TestActivityEnvironment env =
        SameRun.environment("run-1", attempt, scheduledMillis);
    try {
      env.registerActivitiesImplementations(
          new FenceStep() {
            @Override
            public String begin(String fenceDir) {
              return fence.begin(NS, POD, fenceDir).lock();
            }
          });
      return com.limepoint.opschain.dbupgrade.ActivityStubs.of(env, FenceStep.class)
          .begin(dir.toString());
    } finally {
      env.close();
    }
  }

  static final long ROUND_1 = 1_764_400_000_000L;
  static final long ROUND_2 = ROUND_1 + 60_000;

  @Test
  void aNewRoundsFirstAttemptStopsTheThirdAttemptOfTheRoundBeforeIt() throws Exception {
    // The workflow's LostWorkers scheduled the step again: its attempts count from 1 again, and
    // the earlier round's attempt 3 may still run where its worker lost touch with Temporal.
    String earlier = "attempt-" + Heartbeats.fenceToken(ROUND_1, 3);
    Files.createDirectories(dir.resolve(earlier));
    String named = dir + "/" + earlier + "/.lock";
    holder =
        new ProcessBuilder(PodCommands.fenced(named, List.of("sleep", "300")))
            .redirectErrorStream(true)
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!Files.exists(Path.of(named)) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    Thread.sleep(200);

    String lock = beginAs(1, ROUND_2);

    assertThat(holder.waitFor(10, TimeUnit.SECONDS)).as("the earlier round was stopped").isTrue();
    assertThat(dir.resolve(earlier)).doesNotExist();
    assertThat(lock).isEqualTo(dir + "/attempt-" + Heartbeats.fenceToken(ROUND_2, 1) + "/.lock");
  }

  @Test
  void theRoundBeforesAttemptThatFindsTheNewRoundStopsWithoutChangingAnything() throws Exception {
    String later = "attempt-" + Heartbeats.fenceToken(ROUND_2, 1);
    Files.createDirectories(dir.resolve(later));

    assertThatThrownBy(() -> beginAs(3, ROUND_1))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            e ->
                assertThat(e.getOriginalMessage())
                    .contains("attempt 1 of a later round", "attempt 3 stops"));
    assertThat(dir.resolve(later)).isDirectory();
    assertThat(dir.resolve("attempt-" + Heartbeats.fenceToken(ROUND_1, 3))).doesNotExist();
  }
}
