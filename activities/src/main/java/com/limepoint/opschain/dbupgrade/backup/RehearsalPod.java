package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.RehearsalRequest;
import com.limepoint.opschain.dbupgrade.kube.DbPods;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.restore.RestorePodActivitiesImpl;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The restore rehearsal's scratch pod: {@code restoreImage} running {@code sleep}, as the runbook's
 * restore pod does, but on an {@code emptyDir} instead of the database's PVC, and as the data owner
 * (PostgreSQL refuses to run as root). The emptyDir's {@code sizeLimit} makes the kubelet evict the
 * pod rather than fill the node; the volume goes with the pod. This run's marker is on it, and only
 * a pod with this run's marker is ever deleted.
 */
final class RehearsalPod {
  /** Where the emptyDir is mounted in the pod: uploads, pgdata, the server log and socket. */
  static final String SCRATCH = "/rehearsal";

  static final String PGDATA = SCRATCH + "/pgdata";
  static final String LOG = SCRATCH + "/postgres.log";

  /** The pod's image cannot be pulled or its container cannot start: no use waiting. */
  private static final List<String> CANNOT_START =
      List.of(
          "ErrImagePull",
          "ImagePullBackOff",
          "InvalidImageName",
          "CreateContainerConfigError",
          "CreateContainerError");

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RehearsalPod.class);

  private final KubernetesClient client;

  RehearsalPod(KubernetesClient client) {
    this.client = client;
  }

  static Pod spec(RehearsalRequest r) {
    String[] owner = r.dataOwner().split(":");
    long uid = Long.parseLong(owner[0]);
    long gid = Long.parseLong(owner.length > 1 ? owner[1] : owner[0]);
    return RestorePodActivitiesImpl.scratchPod(
            r.namespace(), r.podName(), "rehearsal", r.image(), List.of("sleep", "86400"))
        .editSpec()
        // Kubernetes ends the pod by itself should this worker be gone for good.
        .withActiveDeadlineSeconds(Math.max(3600L, 4 * r.timeoutSeconds()))
        .withNewSecurityContext()
        .withRunAsUser(uid)
        .withRunAsGroup(gid)
        .withFsGroup(gid)
        .withRunAsNonRoot(uid != 0)
        .endSecurityContext()
        .editFirstContainer()
        .withNewResources()
        .withRequests(Map.of("cpu", new Quantity("250m"), "memory", new Quantity("512Mi")))
        .withLimits(Map.of("memory", new Quantity("2Gi")))
        .endResources()
        .addNewVolumeMount()
        .withName("scratch")
        .withMountPath(SCRATCH)
        .endVolumeMount()
        .endContainer()
        .addNewVolume()
        .withName("scratch")
        .withNewEmptyDir()
        .withSizeLimit(new Quantity(Long.toString(r.scratchBytes())))
        .endEmptyDir()
        .endVolume()
        .endSpec()
        .build();
  }

  /**
   * Creates this attempt's pod. An earlier attempt's pod of this run is deleted first (its
   * processes go with it, so no earlier attempt's command runs beside this one); a pod of that name
   * without this run's marker is refused and left alone.
   */
  void create(RehearsalRequest r) {
    PodResource pod = client.pods().inNamespace(r.namespace()).withName(r.podName());
    Pod existing = pod.get();
    if (existing != null && !RestorePodActivitiesImpl.ours(existing)) {
      throw RestorePodActivitiesImpl.notOurs(
          r.namespace(), r.podName(), "Delete it by hand, then retry");
    }
    long started = System.nanoTime();
    if (existing != null) {
      pod.delete();
      awaitGone(pod, r.podName(), started, Duration.ofMinutes(5));
    }
    client.pods().inNamespace(r.namespace()).resource(spec(r)).create();
  }

  /**
   * Waits until the pod runs; returns null, or why it cannot start (an image that cannot be pulled)
   * once that is clear, or after {@code timeout}.
   */
  String awaitRunning(RehearsalRequest r, Duration timeout) {
    PodResource pod = client.pods().inNamespace(r.namespace()).withName(r.podName());
    long started = System.nanoTime();
    while (true) {
      Pod p = pod.get();
      if (p == null) {
        throw ApplicationFailure.newFailure(
            "pod " + r.podName() + " was deleted while starting", "PodNotReady");
      }
      if (DbPods.isReady(p)) {
        return null;
      }
      ContainerStateWaiting w = waiting(p);
      if (w != null && CANNOT_START.contains(w.getReason())) {
        return "pod " + r.podName() + " cannot start: " + w.getReason() + " " + w.getMessage();
      }
      if (System.nanoTime() - started > timeout.toNanos()) {
        return "pod "
            + r.podName()
            + " did not start within "
            + timeout
            + (w == null ? "" : " (" + w.getReason() + ")");
      }
      Heartbeats.alive("waiting for pod " + r.podName() + " to run", started);
      sleep();
    }
  }

  /**
   * Deletes the pod if it carries this run's marker and waits up to {@code quietly} for it to be
   * gone, without heartbeats (a canceled attempt's heartbeat throws, and the pod must still go): a
   * kubelet keeps a deleted pod Terminating until its server has stopped. False when the pod is not
   * this run's.
   */
  boolean deleteIfOurs(String ns, String name, Duration quietly) {
    PodResource pod = client.pods().inNamespace(ns).withName(name);
    Pod existing = pod.get();
    if (existing == null) {
      return true;
    }
    if (!RestorePodActivitiesImpl.ours(existing)) {
      return false;
    }
    pod.delete();
    if (quietly.isZero()) {
      return true;
    }
    try {
      pod.waitUntilCondition(p -> p == null, quietly.toMillis(), TimeUnit.MILLISECONDS);
    } catch (KubernetesClientTimeoutException e) {
      log.info("pod {} is still terminating after {}", name, quietly);
    }
    return true;
  }

  /** Deletes the pod if it carries this run's marker and waits, heartbeating, until it is gone. */
  boolean deleteIfOursAndWait(String ns, String name, Duration timeout) {
    long started = System.nanoTime();
    if (!deleteIfOurs(ns, name, Duration.ZERO)) {
      return false;
    }
    awaitGone(client.pods().inNamespace(ns).withName(name), name, started, timeout);
    return true;
  }

  private static void awaitGone(PodResource pod, String name, long started, Duration timeout) {
    while (true) {
      try {
        pod.waitUntilCondition(p -> p == null, Heartbeats.SLICE.toSeconds(), TimeUnit.SECONDS);
        return;
      } catch (KubernetesClientTimeoutException e) {
        if (System.nanoTime() - started > timeout.toNanos()) {
          throw ApplicationFailure.newFailure(
              "pod " + name + " is still being deleted after " + timeout, "PodNotReady");
        }
        Heartbeats.alive("waiting for pod " + name + " to go", started);
      }
    }
  }

  private static ContainerStateWaiting waiting(Pod p) {
    if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) {
      return null;
    }
    return p.getStatus().getContainerStatuses().stream()
        .filter(s -> s.getState() != null && s.getState().getWaiting() != null)
        .map(s -> s.getState().getWaiting())
        .findFirst()
        .orElse(null);
  }

  private static void sleep() {
    try {
      Thread.sleep(Heartbeats.SLICE.toMillis() / 2);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted", "PodNotReady");
    }
  }
}
