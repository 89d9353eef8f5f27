package com.limepoint.opschain.dbupgrade.kube;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the legacy database keeps its files, asked of the server, and whether a backup directory
 * keeps away from them. Preflight asks before START; takeBackup asks again in the pod it writes to,
 * right before it creates anything there (the database may not have had a ready pod at preflight).
 */
public final class DataDirectories {
  private static final Duration SHORT = Duration.ofMinutes(2);

  private final PodExec exec;

  public DataDirectories(PodExec exec) {
    this.exec = exec;
  }

  /** {@code [data_directory, system_identifier]} from the server, or null when it does not say. */
  public String[] identity(String ns, String pod, String user) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.databaseIdentity(user), SHORT);
    String line = r.stdout().strip();
    int bar = line.lastIndexOf('|');
    if (!r.ok() || bar <= 0 || !line.substring(bar + 1).matches("[0-9]+")) {
      return null;
    }
    return new String[] {line.substring(0, bar), line.substring(bar + 1)};
  }

  /**
   * Why {@code podBackupDir} is unsafe, if it is: it is, contains or lies inside the database's
   * data directory (compared as given and with symbolic links resolved), it lies inside a directory
   * that holds a {@code PG_VERSION} (some data directory), or one is up to three levels below it.
   */
  public List<String> backupDirProblems(
      String ns, String pod, String backupDir, String dataDirectory) {
    List<String> problems = new ArrayList<>();
    List<String> resolved =
        exec.run(ns, pod, PodCommands.realpath(List.of(backupDir, dataDirectory)), SHORT)
            .stdout()
            .lines()
            .toList();
    String b = resolved.size() == 2 ? resolved.get(0) : backupDir;
    String d = resolved.size() == 2 ? resolved.get(1) : dataDirectory;
    String prefix =
        "podBackupDir " + backupDir + " must not be the database's data directory " + dataDirectory;
    String fix = "; choose a directory outside it, such as /tmp/backup";
    if (b.equals(d) || backupDir.equals(dataDirectory)) {
      problems.add(prefix + ", but it is" + fix);
    } else if (b.startsWith(d + "/") || backupDir.startsWith(dataDirectory + "/")) {
      problems.add(prefix + " or lie inside it, but it does" + fix);
    } else if (d.startsWith(b + "/") || dataDirectory.startsWith(backupDir + "/")) {
      problems.add(prefix + " or contain it, but it contains it" + fix);
    }
    if (!problems.isEmpty()) {
      return problems;
    }
    List<String> markers = new ArrayList<>();
    for (String dir = b; !dir.isEmpty(); dir = dir.substring(0, dir.lastIndexOf('/'))) {
      markers.add(dir + "/PG_VERSION");
    }
    List<String> found =
        exec.run(ns, pod, PodCommands.existing(markers), SHORT).stdout().lines().toList();
    if (!found.isEmpty()) {
      problems.add(
          "podBackupDir "
              + backupDir
              + " lies in a PostgreSQL data directory ("
              + found.get(0)
              + " exists)"
              + fix);
    }
    PodExec.Result below = exec.run(ns, pod, PodCommands.findDataDirectory(b), SHORT);
    if (below.ok() && !below.stdout().isBlank()) {
      problems.add(
          "podBackupDir "
              + backupDir
              + " holds a PostgreSQL data directory ("
              + below.stdout().strip()
              + ")"
              + fix);
    }
    return problems;
  }
}
