package com.limepoint.opschain.dbupgrade.kube;

import java.util.List;

/**
 * Every command this project runs in a pod, built as an argv list in one place. Nothing here goes
 * through a shell: paths and names are passed as separate arguments, and they were validated as
 * absolute paths and RFC 1123 names before any workflow started.
 */
public final class PodCommands {
  private PodCommands() {}

  /** The runbook's backup, with its flags (-P for progress; -v for the log). */
  public static List<String> pgBasebackup(String dir, String user, String maxRate) {
    return List.of(
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        "5432",
        "-U",
        user,
        "-D",
        dir,
        "-Ft",
        "-z",
        "--compress=6",
        "-P",
        "-v",
        "--wal-method=stream",
        "--checkpoint=fast",
        "--max-rate=" + maxRate);
  }

  /** Total size of every database, for the free-space check. */
  public static List<String> databaseSize(String user) {
    return List.of(
        "psql",
        "-h",
        "127.0.0.1",
        "-p",
        "5432",
        "-U",
        user,
        "-d",
        "postgres",
        "-At",
        "-c",
        "SELECT sum(pg_database_size(datname)) FROM pg_database");
  }

  public static List<String> listDir(String dir) {
    return List.of("ls", "-1A", "--", dir);
  }

  public static List<String> mkdirs(String dir) {
    return List.of("mkdir", "-p", "--", dir);
  }

  public static List<String> removeTree(String dir) {
    return List.of("rm", "-rf", "--", dir);
  }

  public static List<String> touch(String file) {
    return List.of("touch", "--", file);
  }

  /** Size in bytes; exit 1 when the file does not exist. */
  public static List<String> size(String file) {
    return List.of("stat", "-c", "%s", "--", file);
  }

  public static List<String> sha256(String file) {
    return List.of("sha256sum", "--", file);
  }

  /** One {@code sha256sum} over several files: one line per file. */
  public static List<String> sha256All(List<String> files) {
    List<String> argv = new java.util.ArrayList<>(List.of("sha256sum", "--"));
    argv.addAll(files);
    return List.copyOf(argv);
  }

  public static List<String> read(String file) {
    return List.of("cat", "--", file);
  }

  public static List<String> removeFile(String file) {
    return List.of("rm", "-f", "--", file);
  }

  /** Streams a file to stdout from a byte offset: the resumable read behind the copy out. */
  public static List<String> readFrom(String file, long offset) {
    return List.of(
        "dd", "if=" + file, "bs=1M", "iflag=skip_bytes", "skip=" + offset, "status=none");
  }

  /**
   * Writes exactly {@code count} bytes of stdin into a file at {@code offset}: the resumable
   * upload. dd stops after {@code count} bytes, so no end-of-input signal is needed.
   */
  public static List<String> writeAt(String file, long offset, long count) {
    return List.of(
        "dd",
        "of=" + file,
        "bs=1M",
        "iflag=fullblock,count_bytes",
        "count=" + count,
        "oflag=seek_bytes",
        "seek=" + offset,
        "conv=notrunc",
        "status=none");
  }

  public static List<String> move(String from, String to) {
    return List.of("mv", "-f", "--", from, to);
  }

  /** Copies a file keeping mode and owner, never overwriting the target. */
  public static List<String> copyNoClobber(String from, String to) {
    return List.of("cp", "-p", "-n", "--", from, to);
  }

  /** Copies a file keeping mode and owner, replacing the target. */
  public static List<String> copy(String from, String to) {
    return List.of("cp", "-p", "--", from, to);
  }

  /** The runbook's {@code rm -rf pgdata/*}, without a shell glob: deletes what is inside. */
  public static List<String> emptyDir(String dir) {
    return List.of("find", dir, "-mindepth", "1", "-delete");
  }

  public static List<String> extract(String archive, String into) {
    return List.of("tar", "-xzf", archive, "-C", into);
  }

  public static List<String> chownRecursive(String owner, String dir) {
    return List.of("chown", "-R", owner, "--", dir);
  }

  public static List<String> controlData(String pgdata) {
    return List.of("pg_controldata", pgdata);
  }
}
