package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.client.KubernetesClient;

/**
 * Like the kubelet: a new pod without a status becomes Running and Ready (its work is done through
 * exec), except a pod that runs one command to its end, which {@link ShortLivedPods} runs.
 */
final class PodsStartRunning
    implements io.fabric8.kubernetes.client.Watcher<io.fabric8.kubernetes.api.model.Pod> {
  private final KubernetesClient client;
  private final ShortLivedPods shortLived;
  private final ScratchPods scratch;

  PodsStartRunning(KubernetesClient client, ShortLivedPods shortLived, ScratchPods scratch) {
    this.client = client;
    this.shortLived = shortLived;
    this.scratch = scratch;
  }

  /** API calls never run inside the watch callback: that would block the client's I/O. */
  private final java.util.concurrent.ExecutorService work =
      java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "harness-kubelet");
        t.setDaemon(true);
        return t;
      });

  @Override
  public void eventReceived(Action action, io.fabric8.kubernetes.api.model.Pod pod) {
    if (action == Action.DELETED) {
      work.submit(() -> scratch.stop(pod));
      return;
    }
    if (action != Action.ADDED || (pod.getStatus() != null && pod.getStatus().getPhase() != null)) {
      return;
    }
    if (scratch.handles(pod)) {
      scratch.start(pod);
    }
    if (ShortLivedPods.handles(pod)) {
      shortLived.start(pod);
      return;
    }
    work.submit(() -> {
      for (int attempt = 0; attempt < 20; attempt++) {
        try {
          markRunning(pod);
          return;
        } catch (RuntimeException e) {
          try {
            Thread.sleep(50);
          } catch (InterruptedException ie) {
            return;
          }
        }
      }
    });
  }

  private void markRunning(io.fabric8.kubernetes.api.model.Pod pod) {
    if (client
            .pods()
            .inNamespace(pod.getMetadata().getNamespace())
            .withName(pod.getMetadata().getName())
            .get()
        == null) {
      return;
    }
    client
        .pods()
        .inNamespace(pod.getMetadata().getNamespace())
        .withName(pod.getMetadata().getName())
        .edit(p -> {
          p.setStatus(
              new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                  .withPhase("Running")
                  .addNewCondition()
                  .withType("Ready")
                  .withStatus("True")
                  .endCondition()
                  .build());
          return p;
        });
  }

  @Override
  public void onClose(io.fabric8.kubernetes.client.WatcherException cause) {
    work.shutdownNow();
  }
}
