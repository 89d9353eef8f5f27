package com.limepoint.opschain.dbupgrade.restore;

import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.temporal.failure.ApplicationFailure;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs the restore image's {@code postgres --version} in a short-lived pod, as {@code kubectl run
 * --rm --restart=Never} would: the pod runs the command once, its log holds the answer, and it is
 * deleted afterwards, also when the wait fails. Its name comes from the workflow run, so a retried
 * attempt finds the pod of the earlier one and reuses it (or its finished answer) before deleting
 * it.
 */
final class ImageVersionPod {
  static final String NAME_PREFIX = "restore-image-check-";
  static final String CONTAINER = "postgres-version";

  /**
   * The kubelet's waiting reasons for an image it will not run (kubernetes pkg/kubelet/images
   * types.go): after a failed pull (ErrImagePull, which may pass) it backs off and says
   * ImagePullBackOff; a bad reference or a pull the policy forbids never pass. The pod stays
   * Pending with them, so they end the wait as an answer.
   */
  private static final Set<String> PULL_ERRORS =
      Set.of("ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull");

  /** The failed pull's own message (the registry's "not found"); the back-off's says less. */
  private static final String PULL_FAILED = "ErrImagePull";

  private static final int LOG_BYTES = 4096;

  /** How long a deleted pod is waited for before the activity returns without it gone. */
  private static final Duration GONE = Duration.ofSeconds(8);

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(ImageVersionPod.class);

  /**
   * What the pod showed: the first line the command printed when it exited 0, or else why it gave
   * no version (never both).
   */
  record Outcome(String output, String failure) {}

  private final KubernetesClient client;

  ImageVersionPod(KubernetesClient client) {
    this.client = client;
  }

  /** This run's pod name: the prefix and a hash of the workflow and run id. */
  static String name() {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest(RestorePodActivitiesImpl.runMarker().getBytes(StandardCharsets.UTF_8));
      return NAME_PREFIX + HexFormat.of().formatHex(h, 0, 5);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Runs the image's {@code postgres --version} and returns what it showed; fails retryably when
   * the API cannot be reached or the pod does not finish within {@code timeout}.
   */
  Outcome run(String ns, String image, Duration timeout) {
    String name = name();
    PodResource pod = client.pods().inNamespace(ns).withName(name);
    long started = System.nanoTime();
    Pod existing = pod.get();
    if (existing != null && !RestorePodActivitiesImpl.ours(existing)) {
      // Before the try: the cleanup below deletes only a pod this run created.
      throw ApplicationFailure.newNonRetryableFailure(
          "pod "
              + ns
              + "/"
              + name
              + " exists but was not created by this run (annotation "
              + RestorePodActivitiesImpl.RUN_ANNOTATION
              + "); it was left alone. Delete it by hand, then retry.",
          FailureTypes.NOT_OWNED);
    }
    Outcome outcome = null;
    // Heartbeats from a thread of its own as well: after the wait, describing, closing the informer
    // and deleting the pod are API calls that a busy API server can hold for seconds
    // (RestoreTargetIT
    // once saw 11.1 s between the last heartbeat and the end).
    AutoCloseable beating = Heartbeats.keepAlive("pod " + name, () -> {});
    try {
      start(pod, ns, name, image, timeout, started);
      outcome = await(pod, name, timeout, started);
      return outcome;
    } finally {
      try {
        delete(pod, name, outcome != null);
      } finally {
        stop(beating);
      }
    }
  }

  private static void stop(AutoCloseable beating) {
    try {
      beating.close();
    } catch (Exception e) {
      log.debug("keep-alive did not stop cleanly: {}", e.toString());
    }
  }

  /** Creates the pod, or reuses this run's (one being deleted is waited for, then created anew). */
  private void start(
      PodResource pod, String ns, String name, String image, Duration timeout, long started) {
    Pod existing = pod.get();
    if (existing != null
        && existing.getMetadata().getDeletionTimestamp() == null
        && image.equals(existing.getSpec().getContainers().get(0).getImage())) {
      return;
    }
    if (existing != null) {
      pod.delete();
      waitFor(pod, p -> p == null, name + " to go", timeout, started);
    }
    try {
      client.pods().inNamespace(ns).resource(spec(ns, name, image, timeout)).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      // An overlapping earlier attempt created it a moment ago: it runs the same command.
    }
  }

  /**
   * Restart policy Never: the kubelet runs the command once and the pod ends Succeeded or Failed
   * (Kubernetes "Pod Lifecycle"). The pod gets no service account token and no privileges, and
   * Kubernetes stops it at activeDeadlineSeconds should this activity be gone.
   */
  static Pod spec(String ns, String name, String image, Duration timeout) {
    return RestorePodActivitiesImpl.scratchPod(
            ns, name, "restore-image-check", image, PodCommands.postgresVersion())
        .editSpec()
        .withActiveDeadlineSeconds(timeout.toSeconds() + 60)
        .withEnableServiceLinks(false)
        .editFirstContainer()
        .withName(CONTAINER)
        .withNewSecurityContext()
        .withAllowPrivilegeEscalation(false)
        .withNewCapabilities()
        .withDrop("ALL")
        .endCapabilities()
        .endSecurityContext()
        .withNewResources()
        .withRequests(Map.of("cpu", new Quantity("10m"), "memory", new Quantity("32Mi")))
        .withLimits(Map.of("cpu", new Quantity("200m"), "memory", new Quantity("128Mi")))
        .endResources()
        .endContainer()
        .endSpec()
        .build();
  }

  /** Waits for the pod to end, or for the kubelet to say it cannot pull the image. */
  private Outcome await(PodResource pod, String name, Duration timeout, long started) {
    String[] pullError = {null};
    Pod p =
        waitFor(
            pod,
            x -> {
              ContainerStateWaiting w = waitingOf(x);
              if (w != null && PULL_FAILED.equals(w.getReason())) {
                pullError[0] = w.getMessage();
              }
              return answered(x);
            },
            name + " to run",
            timeout,
            started);
    if (p == null) {
      throw ApplicationFailure.newFailure(
          "pod " + name + " was deleted before it ran; retrying", "PodNotReady");
    }
    String phase = p.getStatus().getPhase();
    ContainerStatus c = container(p);
    if ("Succeeded".equals(phase)) {
      String out = pod.inContainer(CONTAINER).limitBytes(LOG_BYTES).getLog();
      return new Outcome(firstLine(out), null);
    }
    if ("Failed".equals(phase)) {
      ContainerStateTerminated t =
          c == null || c.getState() == null ? null : c.getState().getTerminated();
      if (t == null || "DeadlineExceeded".equals(p.getStatus().getReason())) {
        // The pod failed around the command (evicted, or stopped at its deadline), which says
        // nothing of the image.
        throw ApplicationFailure.newFailure(
            "pod " + name + " failed before its command ended: " + p.getStatus().getReason(),
            "PodNotReady");
      }
      return new Outcome(
          null,
          "`postgres --version` exited "
              + t.getExitCode()
              + (t.getReason() == null ? "" : ", " + t.getReason())
              + (t.getMessage() == null ? "" : ": " + bounded(t.getMessage())));
    }
    ContainerStateWaiting w = c.getState().getWaiting();
    return new Outcome(
        null,
        "the image cannot be pulled ("
            + w.getReason()
            + (w.getMessage() == null ? "" : ": " + bounded(w.getMessage()))
            + (pullError[0] == null ? "" : "; the pull failed with: " + bounded(pullError[0]))
            + ")");
  }

  /** True when the pod is gone, has ended, or cannot start because of its image. */
  private static boolean answered(Pod p) {
    if (p == null) {
      return true;
    }
    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
    if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
      return true;
    }
    ContainerStateWaiting w = waitingOf(p);
    return w != null && PULL_ERRORS.contains(w.getReason());
  }

  private static ContainerStateWaiting waitingOf(Pod p) {
    ContainerStatus c = p == null ? null : container(p);
    return c == null || c.getState() == null ? null : c.getState().getWaiting();
  }

  private static ContainerStatus container(Pod p) {
    if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) {
      return null;
    }
    return p.getStatus().getContainerStatuses().stream()
        .filter(s -> CONTAINER.equals(s.getName()))
        .findFirst()
        .orElse(null);
  }

  /**
   * Waits until the condition holds or the time is up, heartbeating every second's slice. One
   * informer sees every change of the pod (each state, also one that passes quickly).
   */
  private static Pod waitFor(
      PodResource pod,
      java.util.function.Predicate<Pod> condition,
      String what,
      Duration timeout,
      long started) {
    CompletableFuture<List<Pod>> seen =
        pod.informOnCondition(l -> condition.test(l.isEmpty() ? null : l.get(0)));
    try {
      while (true) {
        try {
          List<Pod> l = seen.get(Heartbeats.SLICE.toMillis(), TimeUnit.MILLISECONDS);
          return l.isEmpty() ? null : l.get(0);
        } catch (TimeoutException e) {
          if (System.nanoTime() - started > timeout.toNanos()) {
            throw ApplicationFailure.newFailure(
                "waited " + timeout + " for pod " + what + "; it is " + describe(pod.get()),
                "PodNotReady");
          }
          Heartbeats.alive("waiting for pod " + what, started);
        }
      }
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted waiting for pod " + what, "PodNotReady");
    } finally {
      seen.cancel(true);
    }
  }

  /**
   * Deletes the pod and waits a few seconds for it to be gone (the keep-alive still beats), so that
   * an answered check leaves nothing behind: a kubelet keeps a deleted pod Terminating until its
   * container has stopped. A pod still there is the next attempt's to wait for ({@link #start}). A
   * failed delete after an answer fails the attempt (the retry cleans up).
   */
  private static void delete(PodResource pod, String name, boolean answered) {
    try {
      pod.delete();
      pod.waitUntilCondition(p -> p == null, GONE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (KubernetesClientTimeoutException e) {
      log.info("pod {} is still terminating after {}", name, GONE);
    } catch (KubernetesClientException e) {
      if (answered) {
        throw e;
      }
      log.warn("could not delete pod {}; the next attempt will: {}", name, e.getMessage());
    }
  }

  private static String describe(Pod p) {
    if (p == null) {
      return "gone";
    }
    String phase = p.getStatus() == null ? "without status" : p.getStatus().getPhase();
    ContainerStateWaiting w = waitingOf(p);
    return phase + (w == null ? "" : " (" + w.getReason() + ")");
  }

  static String firstLine(String text) {
    if (text == null) {
      return "";
    }
    List<String> lines = text.strip().lines().toList();
    return lines.isEmpty() ? "" : bounded(lines.get(0));
  }

  private static String bounded(String s) {
    String t = s.strip();
    return t.length() <= 200 ? t : t.substring(0, 200) + "...";
  }
}
