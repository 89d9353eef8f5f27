package com.limepoint.opschain.dbupgrade.bench;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.backup.BackupActivitiesImpl;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The copy-out benchmark: copies a 256 MiB and a 1 GiB backup file pod -> host through the harness
 * (fabric8 exec over the websocket, SHA-256 on the host while streaming, compared with the pod's
 * sums, fsync, rename) and prints MB/s beside {@code cat file | sha256sum} on the same file, the
 * bare exec stream (dd to a null sink: no hashing, no disk), and the in-pod {@code sha256sum} that
 * takeBackup runs once when pg_basebackup has finished (it is not part of the copy, so it is
 * printed on its own). The peak live heap (used after GC) is sampled during each copy.
 *
 * <p>Every figure is the median of {@value #ROUNDS} rounds after one warm-up round (the JIT and the
 * websocket path warm up in the first). The JVM runs with the worker image's GC flags (Serial, a
 * young generation of at most 32 MiB) and -Xmx256m (the harness API server shares it), so a 1 GiB
 * copy must stream. Run: {@code ./mvnw -q -pl activities -am -Pbench -DskipTests verify}.
 */
public final class CopyBenchmark {
  private static final int ROUNDS = 3;

  public static void main(String[] args) throws Exception {
    // As the worker's main does: the JDK client's read buffer for exec streams.
    com.limepoint.opschain.dbupgrade.kube.ExecTransport.configure();
    Path dir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("bench-");
    try (ClusterInABox box = new ClusterInABox()) {
      box.runPod("bench", "db-0", Map.of("app", "db"), 0);
      BackupActivitiesImpl backup = new BackupActivitiesImpl(box.activityClient(), "bench-host");
      System.out.printf(
          "%-8s %10s %12s %8s %12s %16s %15s%n",
          "size",
          "copy MB/s",
          "cat|sha MB/s",
          "ratio",
          "stream MB/s",
          "pod sha256 MB/s",
          "live heap MiB");
      long[] peaks = new long[2];
      int i = 0;
      for (long size : new long[] {256L << 20, 1L << 30}) {
        Path pod = dir.resolve("pod-" + size);
        Files.createDirectories(pod);
        write(pod.resolve("base.tar.gz"), size);
        write(pod.resolve("pg_wal.tar.gz"), 1 << 20);
        long total = size + (1 << 20);
        double podSha =
            total
                / 1e6
                / seconds(() ->
                    backup.recordPodChecksums("bench", "db-0", pod.toString(), pod + "/.lock"));
        Path host = dir.resolve("host-" + size);
        // Warm-up round, not counted.
        catSha(pod.resolve("base.tar.gz"));
        streamOnly(box, pod.resolve("base.tar.gz"));
        copy(backup, pod, host);
        double[] baseline = new double[ROUNDS];
        double[] stream = new double[ROUNDS];
        double[] copy = new double[ROUNDS];
        HeapSampler heap = new HeapSampler();
        heap.start();
        for (int round = 0; round < ROUNDS; round++) {
          baseline[round] = size / 1e6 / seconds(() -> catSha(pod.resolve("base.tar.gz")));
          stream[round] = size / 1e6 / seconds(() -> streamOnly(box, pod.resolve("base.tar.gz")));
          copy[round] = total / 1e6 / seconds(() -> copy(backup, pod, host));
        }
        heap.stopSampling();
        peaks[i++] = heap.peak.get();
        System.out.printf(
            "%-8s %10.1f %12.1f %8.2f %12.1f %16.1f %15.1f%n",
            size == (1L << 30) ? "1 GiB" : "256 MiB",
            median(copy),
            median(baseline),
            median(copy) / median(baseline),
            median(stream),
            podSha,
            heap.peak.get() / 1048576.0);
        System.out.printf("         rounds: copy %s, cat|sha %s%n", rounds(copy), rounds(baseline));
        com.limepoint.opschain.dbupgrade.testkit.Sandbox.deleteTree(pod);
        com.limepoint.opschain.dbupgrade.testkit.Sandbox.deleteTree(host);
      }
      System.out.printf(
          "live heap growth from 256 MiB to 1 GiB: %.1f MiB (target <= 16 MiB); max heap %d MiB%n",
          (peaks[1] - peaks[0]) / 1048576.0, Runtime.getRuntime().maxMemory() >> 20);
    } finally {
      com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(dir);
    }
    System.exit(0);
  }

  /** One whole copy out into an empty host dir, checked. */
  private static void copy(BackupActivitiesImpl backup, Path pod, Path host) {
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.deleteTree(host);
    BackupEvidence e =
        backup.copyBackupOut(
            new BackupActivities.CopyRequest("bench", "db-0", pod.toString(), host.toString()));
    if (!e.files().stream().allMatch(f -> f.matches())
        || !e.checks()
            .get(0)
            .startsWith("copied " + e.files().stream().mapToLong(f -> f.podBytes()).sum())) {
      throw new IllegalStateException("copy did not verify: " + e);
    }
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    java.util.Arrays.sort(s);
    return s[s.length / 2];
  }

  private static String rounds(double[] xs) {
    return java.util.Arrays.stream(xs).mapToObj(x -> String.format("%.1f", x)).toList().toString();
  }

  private static void write(Path file, long size) throws IOException {
    byte[] block = new byte[1 << 20];
    new Random(42).nextBytes(block);
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long left = size; left > 0; left -= block.length) {
        out.write(block, 0, (int) Math.min(block.length, left));
      }
    }
  }

  /** The bare transport: dd in the pod to a null sink through fabric8 exec. */
  private static void streamOnly(ClusterInABox box, Path file) {
    try (var w =
        box.client()
            .pods()
            .inNamespace("bench")
            .withName("db-0")
            .writingOutput(OutputStream.nullOutputStream())
            .exec("dd", "if=" + file, "bs=1M", "status=none")) {
      w.exitCode().get(10, java.util.concurrent.TimeUnit.MINUTES);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code cat file | sha256sum} as a two-process pipeline, no shell. */
  private static void catSha(Path file) {
    try {
      List<Process> ps =
          ProcessBuilder.startPipeline(
              List.of(
                  new ProcessBuilder("cat", file.toString()),
                  new ProcessBuilder("sha256sum").redirectOutput(ProcessBuilder.Redirect.DISCARD)));
      for (Process p : ps) {
        p.waitFor();
      }
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private static double seconds(Runnable r) {
    long t = System.nanoTime();
    r.run();
    return (System.nanoTime() - t) / 1e9;
  }

  /** Samples the live heap (each pool's usage after its last GC) every 5 ms; keeps the peak. */
  private static final class HeapSampler extends Thread {
    final AtomicLong peak = new AtomicLong();
    private volatile boolean running = true;

    HeapSampler() {
      setDaemon(true);
      System.gc();
    }

    @Override
    public void run() {
      var pools =
          ManagementFactory.getMemoryPoolMXBeans().stream()
              .filter(p ->
                  p.getType() == java.lang.management.MemoryType.HEAP
                      && p.getCollectionUsage() != null)
              .toList();
      while (running) {
        long live = pools.stream().mapToLong(p -> p.getCollectionUsage().getUsed()).sum();
        peak.accumulateAndGet(live, Math::max);
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void stopSampling() {
      running = false;
    }
  }
}
