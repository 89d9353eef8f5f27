package com.limepoint.opschain.dbupgrade.kube;

import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.WaitRequest;
import com.limepoint.opschain.dbupgrade.activities.WaitResult;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ApplicationFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/** {@link ClusterActivities} on the fabric8 client. */
public class ClusterActivitiesImpl implements ClusterActivities {

  static final String RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

  private final KubernetesClient client;
  private final PodExec exec;
  private final DataDirectories dataDirs;
  private final Workloads workloads;

  public ClusterActivitiesImpl(KubernetesClient client) {
    this.client = client;
    this.exec = new PodExec(client);
    this.dataDirs = new DataDirectories(exec);
    this.workloads = new Workloads(client);
  }

  @Override
  public PreflightResult preflight(PreflightRequest r) {
    return new PreflightChecks(client, exec, dataDirs, workloads, r).run();
  }

  @Override
  public WaitResult checkDatabaseBack(DatabaseCheckRequest r) {
    String ns = r.namespace();
    long start = System.nanoTime();
    String last = "no check ran";
    while (true) {
      String pod = null;
      try {
        pod = DbPods.readyPod(client, ns, r.dbDeployment());
      } catch (ApplicationFailure e) {
        if (!"PodNotReady".equals(e.getType())) {
          throw ApplicationFailure.newNonRetryableFailure(
              e.getOriginalMessage(), FailureTypes.DATABASE_NOT_IN_SERVICE);
        }
        last = e.getOriginalMessage();
      }
      if (pod != null) {
        String[] identity = dataDirs.identity(ns, pod, r.dbUser());
        if (identity != null) {
          if (r.systemIdentifier() != null && !r.systemIdentifier().equals(identity[1])) {
            throw ApplicationFailure.newNonRetryableFailure(
                "PostgreSQL in pod "
                    + ns
                    + "/"
                    + pod
                    + " answers with system identifier "
                    + identity[1]
                    + ", but preflight recorded "
                    + r.systemIdentifier()
                    + ": it is not the database that was there before",
                FailureTypes.DATABASE_NOT_IN_SERVICE);
          }
          return new WaitResult(
              "PostgreSQL in pod "
                  + pod
                  + " answers; system identifier "
                  + identity[1]
                  + " as recorded at preflight",
              elapsed(start));
        }
        last = "PostgreSQL in pod " + ns + "/" + pod + " does not answer a query";
      }
      if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(r.timeoutSeconds())) {
        throw ApplicationFailure.newNonRetryableFailure(
            "the legacy database is not back in service after "
                + r.timeoutSeconds()
                + " s: "
                + last,
            FailureTypes.DATABASE_NOT_IN_SERVICE);
      }
      Heartbeats.alive("checking the legacy database", start);
      try {
        Thread.sleep(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted while checking the legacy database", Waits.WAIT_TIMED_OUT);
      }
    }
  }

  @Override
  public ChangeResult scaleDeployment(ScaleRequest r) {
    Deployment d = requireDeployment(r.namespace(), r.deployment());
    if (Objects.equals(d.getSpec().getReplicas(), r.replicas())) {
      return ChangeResult.unchanged(
          r.deployment() + " already has " + r.replicas() + " replica(s)");
    }
    var resource = client.apps().deployments().inNamespace(r.namespace()).withName(r.deployment());
    // A merge patch of just the field, as kubectl does: no resourceVersion, so the controllers'
    // concurrent status updates cannot make it conflict.
    (r.dryRun() ? resource.dryRun() : resource)
        .patch(Patches.MERGE, "{\"spec\":{\"replicas\":" + r.replicas() + "}}");
    return r.dryRun()
        ? ChangeResult.unchanged(
            "would scale " + r.deployment() + " to " + r.replicas() + " (dry run)")
        : ChangeResult.changed(
            "scaled "
                + r.deployment()
                + " from "
                + d.getSpec().getReplicas()
                + " to "
                + r.replicas());
  }

  @Override
  public WaitResult awaitWorkloadsStopped(WaitRequest r) {
    return Waits.untilNone(
        "awaitWorkloadsStopped",
        List.of(
            workloads.deployments(r.namespace()),
            workloads.statefulSets(r.namespace()),
            workloads.pods(r.namespace())),
        () -> workloads.running(r),
        "still running: ",
        r.release() == null
            ? "all deployments and statefulsets stopped"
            : "release "
                + r.release()
                + ": all deployments and statefulsets stopped, their pods gone",
        r.timeoutSeconds());
  }

  @Override
  public WaitResult awaitDeploymentReady(WaitRequest r) {
    return Waits.untilNone(
        "awaitDeploymentReady",
        List.of(workloads.deployments(r.namespace()), workloads.pods(r.namespace())),
        () -> workloads.notReady(r),
        "not ready yet: ",
        String.join(", ", r.names()) + " ready",
        r.timeoutSeconds());
  }

  @Override
  public ChangeResult rolloutRestart(RestartRequest r) {
    List<String> restarted = new ArrayList<>();
    for (String name : r.deployments()) {
      Deployment d = requireDeployment(r.namespace(), name);
      Map<String, String> annotations = d.getSpec().getTemplate().getMetadata().getAnnotations();
      if (annotations != null && r.restartedAt().equals(annotations.get(RESTARTED_AT))) {
        continue;
      }
      var resource = client.apps().deployments().inNamespace(r.namespace()).withName(name);
      (r.dryRun() ? resource.dryRun() : resource)
          .patch(
              Patches.MERGE,
              "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\""
                  + RESTARTED_AT
                  + "\":\""
                  + r.restartedAt()
                  + "\"}}}}}");
      restarted.add(name);
    }
    if (restarted.isEmpty()) {
      return ChangeResult.unchanged(
          "already restarted at " + r.restartedAt() + ": " + String.join(", ", r.deployments()));
    }
    return r.dryRun()
        ? ChangeResult.unchanged("would restart " + String.join(", ", restarted) + " (dry run)")
        : ChangeResult.changed(
            "restarted " + String.join(", ", restarted) + " (restartedAt " + r.restartedAt() + ")");
  }

  @Override
  public WaitResult awaitRolloutComplete(WaitRequest r) {
    return Waits.untilNone(
        "awaitRolloutComplete",
        List.of(workloads.deployments(r.namespace())),
        () -> workloads.incomplete(r),
        "rolling out: ",
        "rollouts complete: " + String.join(", ", r.names()),
        r.timeoutSeconds());
  }

  @Override
  public WaitResult awaitDeploymentGone(WaitRequest r) {
    return Waits.untilNone(
        "awaitDeploymentGone",
        List.of(workloads.deployments(r.namespace())),
        () ->
            r.names().stream().filter(n -> workloads.deployment(r.namespace(), n) != null).toList(),
        "still present: ",
        "gone: " + String.join(", ", r.names()),
        r.timeoutSeconds());
  }

  private Deployment requireDeployment(String ns, String name) {
    Deployment d = workloads.deployment(ns, name);
    if (d == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "deployment " + ns + "/" + name + " not found", FailureTypes.PREFLIGHT_FAILED);
    }
    return d;
  }

  private static long elapsed(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }
}
