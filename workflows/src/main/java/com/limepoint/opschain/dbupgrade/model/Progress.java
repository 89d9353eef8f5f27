package com.limepoint.opschain.dbupgrade.model;

import java.util.List;

/**
 * Progress of a long step (backup, copy, import). Activities heartbeat it every few seconds (the
 * Web UI's pending activity shows that) and report it to the workflow at milestones only, so that
 * the history does not grow with the step's duration.
 *
 * @param percent 0-100, or null when unknown
 */
public record Progress(
    String step,
    Double percent,
    Long bytesDone,
    Long bytesTotal,
    String message,
    List<String> lastLogLines,
    String at) {

  public Progress {
    lastLogLines = lastLogLines == null ? List.of() : List.copyOf(lastLogLines);
  }
}
