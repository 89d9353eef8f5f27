package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link HelmActivities}: idempotent Helm upgrades. Each upgrade's description carries {@code
 * <workflowId>/<runId>/<step>}; a retry that finds it on a deployed revision does nothing. A
 * release left pending by this run's own killed attempt is rolled back to its last deployed
 * revision and upgraded again; one left pending by anyone else, an earlier run included, is {@code
 * ReleaseBusy}.
 */
public class HelmActivitiesImpl implements HelmActivities {
  private static final Logger log = LoggerFactory.getLogger(HelmActivitiesImpl.class);

  /**
   * Where a Helm call runs while the activity thread heartbeats: a platform thread of its own per
   * call (HelmSlots bounds how many). Not {@code CompletableFuture}'s default executor: on JDK 25
   * that is the common pool even with one worker (two CPUs), and the JDK HTTP client completes
   * every {@code sendAsync} there ({@code HttpClientImpl.sendAsync}'s {@code whenCompleteAsync} on
   * the default executor), so a Helm call parked on it for minutes stalled every Kubernetes call of
   * this worker (found by ChaosIT).
   */
  static final java.util.concurrent.ExecutorService CALLS =
      java.util.concurrent.Executors.newThreadPerTaskExecutor(
          Thread.ofPlatform().daemon().name("helm-call-", 0).factory());

  private final HelmReleases releases;

  public HelmActivitiesImpl(HelmReleases releases) {
    this.releases = releases;
  }

  @Override
  public ReleaseInfo releaseStatus(ReleaseRequest r) {
    List<HelmReleases.Revision> history = history(r.namespace(), r.release());
    if (history.isEmpty()) {
      return new ReleaseInfo(false, null, 0, null, null);
    }
    HelmReleases.Revision last = history.get(history.size() - 1);
    return new ReleaseInfo(
        true, last.chartVersion(), last.revision(), last.status(), last.description());
  }

  @Override
  public HelmResult upgrade(UpgradeRequest r) {
    // The run, not just the workflow id: every marker names the run that wrote it.
    String run = Heartbeats.workflowId() + "/" + Heartbeats.runId();
    HelmCall call = HelmCall.of(r, run);
    List<HelmReleases.Revision> history = history(r.namespace(), r.release());
    if (history.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "release " + r.namespace() + "/" + r.release() + " is not installed",
          FailureTypes.PREFLIGHT_FAILED);
    }
    HelmReleases.Revision last = history.get(history.size() - 1);
    if ("deployed".equals(last.status()) && call.description().equals(last.description())) {
      return new HelmResult(
          last.revision(),
          last.status(),
          false,
          "revision " + last.revision() + " already made by this step");
    }
    if (last.status() != null && last.status().startsWith("pending")) {
      rollBackOwnPending(r, run, history, last);
    }
    if (r.dryRun()) {
      String manifest = releases.render(call);
      long objects = manifest.lines().filter(l -> l.startsWith("kind:")).count();
      return new HelmResult(
          last.revision(),
          "dry-run",
          false,
          "would run " + String.join(" ", call.argv()) + " (" + objects + " objects rendered)");
    }
    HelmReleases.Revision done = runHeartbeating(call);
    return new HelmResult(done.revision(), done.status(), true, String.join(" ", call.argv()));
  }

  /**
   * The release's revisions by revision number, oldest first. Helm's storage lists them in its own
   * order: the Secrets driver by key, {@code sh.helm.release.v1.<release>.v10} before {@code .v9}
   * (helm pkg/storage/driver/secrets.go; only the CLI's {@code helm history} sorts them,
   * cmd/helm/history.go), so from revision 10 on the last element is not the newest.
   */
  private List<HelmReleases.Revision> history(String namespace, String release) {
    return releases.history(namespace, release).stream()
        .sorted(java.util.Comparator.comparingInt(HelmReleases.Revision::revision))
        .toList();
  }

  /**
   * A release left pending: by an earlier attempt of this run, it is rolled back to the last
   * revision before it; by anyone else, the step refuses (RELEASE_BUSY).
   */
  private void rollBackOwnPending(
      UpgradeRequest r,
      String run,
      List<HelmReleases.Revision> history,
      HelmReleases.Revision last) {
    boolean ours =
        (last.description() != null && last.description().contains(run + "/"))
            || releases.pendingFrom(r.namespace(), r.release(), HelmCall.runLabel(run));
    if (!ours) {
      throw ApplicationFailure.newNonRetryableFailure(
          "release "
              + r.release()
              + " is "
              + last.status()
              + " (revision "
              + last.revision()
              + ", \""
              + last.description()
              + "\"): another client is changing it. Wait for it, or roll it back with helm rollback.",
          FailureTypes.RELEASE_BUSY);
    }
    int deployed =
        history.stream()
            .filter(h -> !h.status().startsWith("pending"))
            .mapToInt(HelmReleases.Revision::revision)
            .filter(rev -> rev < last.revision())
            .max()
            .orElseThrow(() ->
                ApplicationFailure.newNonRetryableFailure(
                    "release " + r.release() + " has no revision to roll back to",
                    FailureTypes.RELEASE_BUSY));
    log.warn(
        "release {} left {} by an earlier attempt of {}; rolling back to revision {}",
        r.release(),
        last.status(),
        run,
        deployed);
    releases.rollback(
        r.namespace(), r.release(), deployed, HelmCall.marker(run, r.step() + "-recovered"));
  }

  /** Waits for a cancelled attempt's Helm call to return, heartbeating; its outcome is dropped. */
  private static void awaitHelm(
      CompletableFuture<HelmReleases.Revision> f, HelmCall call, long start) {
    while (!f.isDone()) {
      try {
        f.get(Heartbeats.SLICE.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        Heartbeats.alive(
            "cancelled: waiting for helm upgrade " + call.release() + " to return", start);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException e) {
        return;
      }
    }
  }

  /** Helm blocks while it waits for the rollout; heartbeat meanwhile. */
  private HelmReleases.Revision runHeartbeating(HelmCall call) {
    CompletableFuture<HelmReleases.Revision> f =
        CompletableFuture.supplyAsync(() -> releases.upgrade(call), CALLS);
    long start = System.nanoTime();
    while (true) {
      try {
        return f.get(Heartbeats.SLICE.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        try {
          Heartbeats.alive("helm upgrade " + call.release() + " " + call.version(), start);
        } catch (io.temporal.client.ActivityCompletionException cancelled) {
          // Cancelled (an abort, a cancel) or timed out: Helm is asked to stop (the CLI gets
          // SIGTERM), and a put-back deploy started before it returned would find the release
          // pending-upgrade. Wait for it to return first.
          releases.interrupt(call);
          Heartbeats.whileCleaningUp(() -> awaitHelm(f, call, start));
          throw cancelled;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted during helm upgrade", FailureTypes.HELM_FAILED);
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof ApplicationFailure af) {
          throw af;
        }
        throw ApplicationFailure.newFailure(
            "helm upgrade " + call.release() + " failed: " + c.getMessage(),
            FailureTypes.HELM_FAILED);
      }
    }
  }
}
