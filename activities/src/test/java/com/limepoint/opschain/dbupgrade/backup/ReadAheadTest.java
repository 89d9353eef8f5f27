package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The read-ahead in front of the rehearsal's and the restore's decompression. */
class ReadAheadTest {

  @Test
  void givesEveryByteInOrderAcrossChunks() throws IOException {
    byte[] data = new byte[3 * ReadAhead.CHUNK + 12345];
    new Random(7).nextBytes(data);

    byte[] read;
    try (ReadAhead in = new ReadAhead(new ByteArrayInputStream(data), "test")) {
      read = in.readAllBytes();
      assertThat(in.read()).isEqualTo(-1);
    }

    assertThat(read).isEqualTo(data);
  }

  @Test
  void aFailingSourceFailsTheReaderAfterTheBytesBeforeIt() throws IOException {
    InputStream failing =
        new InputStream() {
          int left = 1000;

          @Override
          public int read() throws IOException {
            if (left-- > 0) {
              return 'x';
            }
            throw new IOException("Data corruption detected");
          }
        };

    try (ReadAhead in = new ReadAhead(failing, "test")) {
      assertThatThrownBy(in::readAllBytes)
          .isInstanceOf(IOException.class)
          .hasMessage("Data corruption detected");
      // Again on the next read: a failed stream never looks like one that ended cleanly.
      assertThatThrownBy(in::read).hasMessage("Data corruption detected");
    }
  }

  @Test
  void anErrorOnTheReadAheadThreadReachesTheReaderInsteadOfLeavingItWaiting() {
    InputStream dying =
        new InputStream() {
          @Override
          public int read() {
            throw new OutOfMemoryError("Java heap space (simulated)");
          }
        };

    assertTimeoutPreemptively(
        Duration.ofSeconds(10),
        () -> {
          try (ReadAhead in = new ReadAhead(dying, "test")) {
            assertThatThrownBy(in::read)
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("simulated");
          }
        });
  }

  @Test
  void anInterruptedCloseStillWaitsForTheThreadAndKeepsTheInterrupt() throws Exception {
    CountDownLatch reading = new CountDownLatch(1);
    AtomicLong reads = new AtomicLong();
    InputStream slow =
        new InputStream() {
          @Override
          public int read() {
            return read(new byte[1], 0, 1);
          }

          @Override
          public int read(byte[] b, int off, int len) {
            reads.incrementAndGet();
            reading.countDown();
            long until = System.nanoTime() + 300_000_000L;
            while (System.nanoTime() < until) {
              Thread.onSpinWait(); // a read that takes a while and ignores interrupts (a file's)
            }
            return len;
          }
        };
    ReadAhead in = new ReadAhead(slow, "test");
    reading.await();

    Thread.currentThread().interrupt();
    in.close();

    assertThat(Thread.interrupted()).as("the interrupt is kept").isTrue();
    long atClose = reads.get();
    Thread.sleep(400);
    assertThat(reads.get()).as("no read after close returned").isEqualTo(atClose);
  }

  @Test
  void closeStopsTheThreadSoTheSourceIsNoLongerRead() throws Exception {
    AtomicLong reads = new AtomicLong();
    InputStream endless =
        new InputStream() {
          @Override
          public int read() {
            reads.incrementAndGet();
            return 0;
          }

          @Override
          public int read(byte[] b, int off, int len) {
            reads.incrementAndGet();
            return len;
          }
        };
    ReadAhead in = new ReadAhead(endless, "test");
    assertThat(in.readNBytes(10)).hasSize(10);
    // The queue fills and the thread waits to hand the next chunk over.
    Thread.sleep(200);

    in.close();
    long atClose = reads.get();
    Thread.sleep(300);

    assertThat(reads.get()).isEqualTo(atClose);
    assertThat(Thread.getAllStackTraces().keySet())
        .noneMatch(t -> t.getName().equals("read-ahead-test") && t.isAlive());
  }
}
