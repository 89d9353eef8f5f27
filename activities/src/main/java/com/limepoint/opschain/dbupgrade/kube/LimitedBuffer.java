package com.limepoint.opschain.dbupgrade.kube;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Captures output up to a limit, keeping the start. */
final class LimitedBuffer extends OutputStream {
  private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
  private final int limit;

  LimitedBuffer(int limit) {
    this.limit = limit;
  }

  @Override
  public synchronized void write(int b) {
    if (buf.size() < limit) {
      buf.write(b);
    }
  }

  @Override
  public synchronized void write(byte[] b, int off, int len) {
    int n = Math.min(len, limit - buf.size());
    if (n > 0) {
      buf.write(b, off, n);
    }
  }

  synchronized String text() {
    return buf.toString(StandardCharsets.UTF_8);
  }
}
