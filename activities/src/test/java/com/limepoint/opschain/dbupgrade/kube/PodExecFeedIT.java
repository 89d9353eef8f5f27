package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Exec stdin on the harness, whose API server pushes back as a real one does: every byte arrives,
 * in order, whether the pod reads fast or stalls for seconds, and the sends are paced by fabric8's
 * send queue rather than a fixed pause.
 */
class PodExecFeedIT {
  static final String NS = "opschain";
  static final String POD = "feed-0";

  Path dir;
  RealCluster box;
  PodExec exec;

  @BeforeEach
  void setUp() throws Exception {
    dir = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("feed-");
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    box = new RealCluster(NS);
    box.runPod(NS, POD, Map.of("app", "feed"), 0);
    exec = new PodExec(box.activityClient());
  }

  @AfterEach
  void tearDown() throws Exception {
    box.close();
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(dir);
  }

  @Test
  void aPodThatStallsGetsEveryByteInOrder() throws Exception {
    // 160 MiB read 16 MiB at a time with 1.5 s stalls (15 s in all). Every hop of the real path
    // blocks when the next is full, but each holds some: fabric8's send queue (16 MiB,
    // ExecWebSocketListener.MAX_QUEUE_SIZE), the TCP buffers of the two connections (up to 32 MiB
    // each on the receiving side here, net.ipv4.tcp_rmem), kube-apiserver's relay of a v4 exec
    // (a raw byte copy: apimachinery pkg/util/proxy/upgradeaware.go:419-431) and kwok's pipes.
    // Under 100 MiB in all: 160 MiB is more than the path can hold.
    long size = 160L << 20;
    Path out = dir.resolve("slow.bin");
    String reader =
        "i=0; while [ $i -lt 10 ]; do dd bs=1M count=16 iflag=fullblock status=none; sleep 1.5;"
            + " i=$((i+1)); done > \"$0\"";
    long t = System.nanoTime();
    java.util.concurrent.atomic.AtomicLong lastRead = new java.util.concurrent.atomic.AtomicLong();
    InputStream source =
        new java.io.FilterInputStream(random(size)) {
          @Override
          public int read(byte[] b, int off, int len) throws java.io.IOException {
            int n = super.read(b, off, len);
            lastRead.set(System.nanoTime());
            return n;
          }
        };
    PodExec.Result r =
        exec.feed(
            NS, POD, List.of("sh", "-c", reader, out.toString()), source, Duration.ofMinutes(2));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(Files.size(out)).isEqualTo(size);
    assertThat(sha256(Files.newInputStream(out))).isEqualTo(sha256(random(size)));
    double held = (lastRead.get() - t) / 1e9;
    System.out.printf("the sender read its last byte after %.2f s%n", held);
    // With 48 MiB the stalls did not always hold the sender (done after 0.72 s once): the path
    // held it all. With more than it holds, the sender waits for the reader's stalls.
    assertThat(held)
        .as("seconds until the sender had read its last byte: the stalls held it back")
        .isGreaterThan(3.0);
  }

  @Test
  void sendsArePacedByTheSocketsQueue() throws Exception {
    long size = 256L << 20;
    Path out = dir.resolve("fast.bin");
    long t = System.nanoTime();
    PodExec.Result r =
        exec.feed(
            NS,
            POD,
            List.of("dd", "of=" + out, "bs=1M", "iflag=fullblock", "count=256", "status=none"),
            random(size),
            Duration.ofMinutes(2));
    double secs = (System.nanoTime() - t) / 1e9;
    System.out.printf(
        "fed 256 MiB into a pod's dd in %.2f s: %.1f MB/s%n", secs, size / 1e6 / secs);
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(sha256(Files.newInputStream(out))).isEqualTo(sha256(random(size)));
    try (var watch =
        box.activityClient().pods().inNamespace(NS).withName(POD).redirectingInput().exec("true")) {
      assertThat(StdinPacer.of(watch).tracksQueue())
          .as("fabric8's exec socket is readable, so no fixed pause per chunk")
          .isTrue();
    }
  }

  /** {@code size} bytes of seeded random data, generated as read. */
  private static InputStream random(long size) {
    return new InputStream() {
      final Random rnd = new Random(7);
      final byte[] block = new byte[64 << 10];
      int pos = block.length;
      long left = size;

      @Override
      public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (left <= 0) {
          return -1;
        }
        if (pos == block.length) {
          rnd.nextBytes(block);
          pos = 0;
        }
        int n = (int) Math.min(Math.min(len, block.length - pos), left);
        System.arraycopy(block, pos, b, off, n);
        pos += n;
        left -= n;
        return n;
      }
    };
  }

  private static String sha256(InputStream in) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (in) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
