package com.limepoint.opschain.dbupgrade.testkit;

/**
 * Which pods' exec runs what on this machine, by pod name: the mock API server's {@link
 * HarnessDispatcher} and the real control plane's {@link ExecBroker} both keep them.
 */
interface ExecBindings {
  /** Exec into the pod {@code runtime.name()} of {@code namespace} runs as {@code runtime} says. */
  void bindPod(String namespace, PodRuntime runtime);

  /** What the pod is bound to, or null. */
  PodRuntime boundPod(String namespace, String name);

  void unbindPod(String namespace, String name);
}
