package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The kubelet for pods that run one command of their image and end ({@code restartPolicy: Never},
 * the command {@code postgres --version}): the pod is Pending while its image is pulled, Running
 * while the command runs, then Succeeded (exit 0) or Failed, and its log stays readable until the
 * pod is deleted (Kubernetes docs, "Pod Lifecycle": pod phase, container states). What the command
 * prints is the image's ({@link ImageVersions}).
 *
 * <p>Faults as operators meet them: an image that does not exist stays Pending with {@code
 * ErrImagePull}, then {@code ImagePullBackOff} (kubernetes pkg/kubelet/images: the reasons and the
 * "Back-off pulling image" message); a slow registry keeps the pod Pending in {@code
 * ContainerCreating} for a while; an image without the program fails at start with the runtime's
 * {@code StartError}, exit code 128 (containerd's "exec: ... executable file not found in $PATH").
 */
final class ShortLivedPods {
  private static final List<List<String>> COMMANDS =
      List.of(List.of("postgres", "--version"), List.of("postgres", "-V"));

  /** How long each phase lasts at least, so that a watcher sees Pending and Running go by. */
  private static final Duration STEP = Duration.ofMillis(100);

  /**
   * The label value of the pods this kubelet runs ({@code app.kubernetes.io/component}, as the
   * production code sets it): the real control plane's kwok leaves them alone ({@link
   * KubeControlPlane}'s pod-ready stage).
   */
  static final String COMPONENT = "restore-image-check";

  /** Where the kubelet reports: the pod's status and its log. */
  interface Reports {
    void status(String ns, String name, PodStatus status);

    void log(String ns, String name, String text);
  }

  private final Reports reports;
  private final Set<String> missingImages = ConcurrentHashMap.newKeySet();
  private final Map<String, Duration> pullTimes = new ConcurrentHashMap<>();
  private final Set<String> started = ConcurrentHashMap.newKeySet();

  ShortLivedPods(Reports reports) {
    this.reports = reports;
  }

  /** On the mock API server: status written through the pod, the log kept by the dispatcher. */
  static ShortLivedPods onMock(KubernetesClient client, ClusterInABox box) {
    return new ShortLivedPods(
        new Reports() {
          @Override
          public void status(String ns, String name, PodStatus status) {
            client
                .pods()
                .inNamespace(ns)
                .withName(name)
                .edit(p -> {
                  p.setStatus(status);
                  return p;
                });
          }

          @Override
          public void log(String ns, String name, String text) {
            box.setLog(ns, name, text);
          }
        });
  }

  /** The registry has no such image: pulling it fails. */
  void missingImage(String image) {
    missingImages.add(image);
  }

  /** Pulling this image takes {@code time} (the pod stays Pending in ContainerCreating). */
  void pullTakes(String image, Duration time) {
    pullTimes.put(image, time);
  }

  /** True for a new pod this kubelet runs to its end: one container, a command it knows. */
  static boolean handles(Pod pod) {
    var spec = pod.getSpec();
    return spec != null
        && "Never".equals(spec.getRestartPolicy())
        && spec.getContainers() != null
        && spec.getContainers().size() == 1
        && COMMANDS.contains(spec.getContainers().get(0).getCommand());
  }

  /**
   * Runs the pod through its phases on a thread of its own, once per pod (by uid); stops if the pod
   * is deleted.
   */
  void start(Pod pod) {
    if (!started.add(
        pod.getMetadata().getNamespace()
            + "/"
            + pod.getMetadata().getName()
            + "/"
            + pod.getMetadata().getUid())) {
      return;
    }
    Thread.ofVirtual()
        .name("harness-kubelet-" + pod.getMetadata().getName())
        .start(() -> {
          try {
            run(pod);
          } catch (KubernetesClientException e) {
            // The pod was deleted while it ran: nothing is left to report on.
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
  }

  private void run(Pod pod) throws InterruptedException {
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    var container = pod.getSpec().getContainers().get(0);
    String image = container.getImage();
    String c = container.getName();
    setStatus(ns, name, "Pending", waiting(c, image, "ContainerCreating", null));
    if (missingImages.contains(image)) {
      Thread.sleep(STEP.toMillis());
      setStatus(
          ns,
          name,
          "Pending",
          waiting(
              c,
              image,
              "ErrImagePull",
              "failed to pull and unpack image \"" + image + "\": not found"));
      Thread.sleep(STEP.toMillis());
      setStatus(
          ns,
          name,
          "Pending",
          waiting(c, image, "ImagePullBackOff", "Back-off pulling image \"" + image + "\""));
      return;
    }
    Thread.sleep(
        Math.max(STEP.toMillis(), pullTimes.getOrDefault(image, Duration.ZERO).toMillis()));
    ImageVersions.Answer answer = ImageVersions.postgresVersion(image);
    if (!(answer instanceof ImageVersions.Printed printed)) {
      String message =
          answer instanceof ImageVersions.Unknown unknown
              ? unknown.why()
              : "failed to create containerd task: failed to create shim task: OCI runtime create"
                  + " failed: runc create failed: unable to start container process: exec:"
                  + " \"postgres\": executable file not found in $PATH: unknown";
      setStatus(ns, name, "Failed", terminated(c, image, 128, "StartError", message));
      return;
    }
    setStatus(ns, name, "Running", running(c, image));
    Thread.sleep(STEP.toMillis());
    reports.log(ns, name, printed.line() + "\n");
    setStatus(ns, name, "Succeeded", terminated(c, image, 0, "Completed", null));
  }

  private void setStatus(String ns, String name, String phase, ContainerStatus container) {
    PodStatus status =
        new PodStatusBuilder()
            .withPhase(phase)
            .addNewCondition()
            .withType("PodScheduled")
            .withStatus("True")
            .endCondition()
            .addNewCondition()
            .withType("Ready")
            .withStatus(container.getReady() ? "True" : "False")
            .endCondition()
            .withContainerStatuses(container)
            .build();
    reports.status(ns, name, status);
  }

  private static ContainerStatus waiting(String c, String image, String reason, String message) {
    return base(c, image, false)
        .withNewState()
        .withNewWaiting()
        .withReason(reason)
        .withMessage(message)
        .endWaiting()
        .endState()
        .build();
  }

  private static ContainerStatus running(String c, String image) {
    return base(c, image, true)
        .withStarted(true)
        .withNewState()
        .withNewRunning()
        .withStartedAt(Instant.now().toString())
        .endRunning()
        .endState()
        .build();
  }

  private static ContainerStatus terminated(
      String c, String image, int exitCode, String reason, String message) {
    return base(c, image, false)
        .withStarted(false)
        .withNewState()
        .withNewTerminated()
        .withExitCode(exitCode)
        .withReason(reason)
        .withMessage(message)
        .withFinishedAt(Instant.now().toString())
        .endTerminated()
        .endState()
        .build();
  }

  private static ContainerStatusBuilder base(String c, String image, boolean ready) {
    return new ContainerStatusBuilder()
        .withName(c)
        .withImage(image)
        .withReady(ready)
        .withRestartCount(0);
  }
}
