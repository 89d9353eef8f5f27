package com.limepoint.opschain.dbupgrade.kube;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Keeps the last lines of a log, for heartbeats and failure messages. */
public final class LogTail implements Consumer<String> {
  private final int max;
  private final List<String> lines = new ArrayList<>();

  public LogTail(int max) {
    this.max = max;
  }

  @Override
  public synchronized void accept(String line) {
    lines.add(line);
    if (lines.size() > max) {
      lines.remove(0);
    }
  }

  public synchronized List<String> lines() {
    return List.copyOf(lines);
  }
}
