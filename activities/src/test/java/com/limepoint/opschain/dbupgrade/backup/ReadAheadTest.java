package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;
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
    }
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
