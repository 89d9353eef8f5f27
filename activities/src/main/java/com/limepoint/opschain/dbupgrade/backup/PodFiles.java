package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The backup's files in the pod: which are there, their sizes, and their SHA-256. */
final class PodFiles {
  /** The backup manifest pg_basebackup writes beside the archives (PostgreSQL 13+). */
  static final String MANIFEST = "backup_manifest";

  /**
   * What pg_basebackup -Ft --wal-method=stream wrote, base first: base.tar and pg_wal.tar, each as
   * the format names it ({@code .gz}, {@code .zst}, or plain), and the manifest.
   */
  static List<String> backupNames(List<String> present) {
    List<String> names = new ArrayList<>();
    for (String prefix : List.of("base.tar", "pg_wal.tar")) {
      present.stream()
          .filter(n -> n.startsWith(prefix) && ArchiveFormat.isArchive(n))
          .sorted()
          .forEach(names::add);
    }
    if (present.contains(MANIFEST)) {
      names.add(MANIFEST);
    }
    return names;
  }

  private static final Duration SHORT = Duration.ofMinutes(2);
  private static final Duration LONG = Duration.ofHours(12);

  private final PodExec exec;

  PodFiles(PodExec exec) {
    this.exec = exec;
  }

  /** The names in a directory of the pod. */
  List<String> list(String ns, String pod, String dir) {
    return exec.check(ns, pod, PodCommands.listDir(dir), SHORT).lines().toList();
  }

  /**
   * The backup files present in the pod, with sizes, and the recorded SHA-256 when there is one.
   */
  List<BackupFile> backupFiles(String ns, String pod, String dir, Map<String, String> sums) {
    List<String> present = list(ns, pod, dir);
    List<String> names = backupNames(present);
    for (String prefix : List.of("base.tar", "pg_wal.tar")) {
      if (names.stream().noneMatch(n -> n.startsWith(prefix))) {
        throw ApplicationFailure.newNonRetryableFailure(
            prefix + " (or " + prefix + ".gz, .zst) is missing from " + ns + "/" + pod + ":" + dir,
            FailureTypes.BACKUP_INVALID);
      }
    }
    List<BackupFile> files = new ArrayList<>();
    for (String name : names) {
      String path = dir + "/" + name;
      long size = size(ns, pod, path);
      if (size <= 0) {
        throw ApplicationFailure.newNonRetryableFailure(
            name + " in " + ns + "/" + pod + ":" + dir + " is empty", FailureTypes.BACKUP_INVALID);
      }
      files.add(new BackupFile(name, size, sums.get(name), null, null));
    }
    return files;
  }

  /**
   * Hashes the backup files in {@code dir} ({@code sha256sum}, once, fenced by {@code lock}) and
   * writes the sums to {@link SumsFile#NAME} beside them.
   */
  Map<String, String> recordChecksums(String ns, String pod, String dir, String lock) {
    List<String> present = list(ns, pod, dir);
    List<String> paths = backupNames(present).stream().map(n -> dir + "/" + n).toList();
    Map<String, String> sums =
        SumsFile.parse(
            exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.sha256All(paths)), LONG));
    SumsFile.writeInPod(exec, ns, pod, dir, sums, lock);
    return sums;
  }

  /** Size of a file in the pod, or -1 when it does not exist. */
  long size(String ns, String pod, String path) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.size(path), SHORT);
    return r.ok() ? Long.parseLong(r.stdout().strip()) : -1;
  }

  /** SHA-256 of a file in the pod, hashed there now; null when sha256sum fails. */
  String sha256(String ns, String pod, String path) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.sha256(path), LONG);
    if (!r.ok()) {
      return null;
    }
    String out = r.stdout().strip();
    int space = out.indexOf(' ');
    return space > 0 ? out.substring(0, space) : out;
  }
}
