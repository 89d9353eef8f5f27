package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The kubelet's part for pods that bring their own scratch space (an {@code emptyDir}) and run a
 * server in it, such as the restore rehearsal's pod: each emptyDir is a new, empty directory of its
 * own, world-writable as the kubelet creates it (kubernetes pkg/volume/emptydir/empty_dir.go:
 * {@code perm os.FileMode = 0777}), removed with the pod; the pod has its own network namespace, so
 * its 127.0.0.1:5432 is a port of its own here; its commands run as the securityContext's
 * runAsUser:runAsGroup. When the pod is deleted, its processes are killed (a server started in it
 * included) and its emptyDirs removed, as the kubelet tears a pod down.
 */
final class ScratchPods {
  private final ExecBindings dispatcher;
  private final Path root;
  private final Map<String, Path> podDirs = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicInteger counter =
      new java.util.concurrent.atomic.AtomicInteger();

  ScratchPods(ExecBindings dispatcher) {
    this.dispatcher = dispatcher;
    try {
      // Short: a server's Unix socket path in it must stay under 108 bytes (sun_path).
      this.root = Files.createTempDirectory("ciab");
      Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True for a new pod with an emptyDir that no test bound by name. */
  boolean handles(Pod pod) {
    return pod.getSpec() != null
        && pod.getSpec().getVolumes() != null
        && pod.getSpec().getVolumes().stream().anyMatch(v -> v.getEmptyDir() != null)
        && dispatcher.boundPod(pod.getMetadata().getNamespace(), pod.getMetadata().getName())
            == null;
  }

  /** Creates the pod's emptyDirs and binds its exec to them, its own port and its user. */
  void start(Pod pod) {
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    if (podDirs.containsKey(ns + "/" + name)) {
      return;
    }
    try {
      Path dir = Files.createDirectories(root.resolve("p" + counter.incrementAndGet()));
      Map<String, Path> mounts = new HashMap<>();
      var container = pod.getSpec().getContainers().get(0);
      for (Volume v : pod.getSpec().getVolumes()) {
        if (v.getEmptyDir() == null) {
          continue;
        }
        Path local = Files.createDirectories(dir.resolve(v.getName()));
        Files.setPosixFilePermissions(local, PosixFilePermissions.fromString("rwxrwxrwx"));
        for (VolumeMount m : container.getVolumeMounts()) {
          if (m.getName().equals(v.getName())) {
            mounts.put(m.getMountPath(), local);
          }
        }
      }
      podDirs.put(ns + "/" + name, dir);
      dispatcher.bindPod(
          ns,
          new PodRuntime(
              name,
              LocalPostgres.freePort(),
              Map.of(),
              user(pod.getSpec().getSecurityContext()),
              Map.copyOf(mounts),
              container.getImage()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The pod is gone: its processes are killed and its emptyDirs removed. */
  void stop(Pod pod) {
    String key = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    Path dir = podDirs.remove(key);
    if (dir == null) {
      return;
    }
    dispatcher.unbindPod(pod.getMetadata().getNamespace(), pod.getMetadata().getName());
    killProcessesUsing(dir);
    Sandbox.deleteTree(dir);
  }

  /** Every pod's processes are killed and the scratch root removed. */
  void close() {
    for (String left : live()) {
      String[] nsPod = left.split("/", 2);
      stop(
          new io.fabric8.kubernetes.api.model.PodBuilder()
              .withNewMetadata()
              .withNamespace(nsPod[0])
              .withName(nsPod[1])
              .endMetadata()
              .build());
    }
    Sandbox.deleteTree(root);
  }

  /** The emptyDirs of pods that still exist (none once every scratch pod was deleted). */
  Set<String> live() {
    return Set.copyOf(podDirs.keySet());
  }

  private static String user(PodSecurityContext sc) {
    if (sc == null || sc.getRunAsUser() == null) {
      return null;
    }
    long gid = sc.getRunAsGroup() == null ? sc.getRunAsUser() : sc.getRunAsGroup();
    return sc.getRunAsUser() + ":" + gid;
  }

  /** Every process whose command line names the pod's directory (its server, its children). */
  private static void killProcessesUsing(Path dir) {
    String needle = dir.toString();
    ProcessHandle.allProcesses()
        .filter(p -> cmdline(p.pid()).contains(needle))
        .forEach(ProcessHandle::destroyForcibly);
  }

  private static String cmdline(long pid) {
    try {
      byte[] b = Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline"));
      return new String(b, StandardCharsets.UTF_8).replace('\0', ' ');
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
