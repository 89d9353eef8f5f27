package com.limepoint.opschain.dbupgrade.kube;

import java.util.List;

/**
 * Every command this project runs in a pod, built as an argv list in one place. Nothing here goes
 * through a shell: paths and names are passed as separate arguments, and they were validated as
 * absolute paths and RFC 1123 names before any workflow started.
 */
public final class PodCommands {
  private PodCommands() {}

  /**
   * The runbook's backup, with its flags as the runbook writes them (-P for progress; -vvv for the
   * log: PostgreSQL 15's pg_basebackup.c counts each -v but only tests {@code if (verbose)}, so
   * -vvv logs what -v does, to stderr).
   */
  public static List<String> pgBasebackup(String dir, String user, String maxRate) {
    return pgBasebackup(dir, user, maxRate, List.of("-z", "--compress=6"));
  }

  /**
   * The runbook's pg_basebackup into {@code dir}, compressed as {@code compress} says; the one argv
   * both backup modes run. {@code dir} "-" writes the tar to stdout (the stream mode), where
   * pg_basebackup cannot stream WAL beside it, so WAL is fetched at the end and the log kept to -v.
   */
  public static List<String> pgBasebackup(
      String dir, String user, String maxRate, List<String> compress) {
    boolean toStdout = "-".equals(dir);
    List<String> argv =
        new java.util.ArrayList<>(
            List.of(
                "pg_basebackup", "-h", "127.0.0.1", "-p", "5432", "-U", user, "-D", dir, "-Ft"));
    argv.addAll(compress);
    argv.addAll(
        List.of(
            "-P",
            toStdout ? "-v" : "-vvv",
            toStdout ? "--wal-method=fetch" : "--wal-method=stream",
            "--checkpoint=fast",
            "--max-rate=" + maxRate));
    return List.copyOf(argv);
  }

  /** The server's version as a number (150004 for 15.4): what the backup format depends on. */
  public static List<String> serverVersionNum(String user) {
    return psql(user, "SHOW server_version_num");
  }

  /** Total size of every database, for the free-space check. */
  public static List<String> databaseSize(String user) {
    return psql(user, "SELECT sum(pg_database_size(datname)) FROM pg_database");
  }

  /**
   * The database's data directory and system identifier, one line {@code <dir>|<id>}: what
   * preflight keeps the backup away from, and what tells after a compensation that the database
   * answering is still the same one. Needs a superuser or {@code pg_read_all_settings}.
   */
  public static List<String> databaseIdentity(String user) {
    return psql(
        user,
        "SELECT current_setting('data_directory') || '|' || system_identifier"
            + " FROM pg_control_system()");
  }

  /** One query through psql on the pod's own server, unaligned, tuples only. */
  private static List<String> psql(String user, String sql) {
    return List.of(
        "psql", "-h", "127.0.0.1", "-p", "5432", "-U", user, "-d", "postgres", "-At", "-c", sql);
  }

  /** {@code realpath -m}: each path with symbolic links resolved, existing or not. */
  public static List<String> realpath(List<String> paths) {
    List<String> argv = new java.util.ArrayList<>(List.of("realpath", "-m", "--"));
    argv.addAll(paths);
    return List.copyOf(argv);
  }

  /** Prints those of the paths that exist (exit 1 when some do not). */
  public static List<String> existing(List<String> paths) {
    List<String> argv = new java.util.ArrayList<>(List.of("stat", "-c", "%n", "--"));
    argv.addAll(paths);
    return List.copyOf(argv);
  }

  /** The first {@code PG_VERSION} up to three levels below {@code dir}: a data directory there. */
  public static List<String> findDataDirectory(String dir) {
    return List.of("find", dir, "-maxdepth", "3", "-name", "PG_VERSION", "-print", "-quit");
  }

  /** Creates exactly this directory; fails when it exists (so two creators cannot both win). */
  public static List<String> mkdirNew(String dir) {
    return List.of("mkdir", "--", dir);
  }

  /**
   * Runs {@code argv} under an exclusive lock on {@code lock}, as the leader of a new process group
   * ({@code setsid}): a second attempt cannot run beside it (flock exits {@value #LOCK_BUSY}
   * instead), and {@link PodFence} can find the holder in {@code /proc/locks} and stop the whole
   * group. flock(1) and setsid(1) are util-linux, essential in Debian, which the PostgreSQL images
   * are built on.
   */
  public static List<String> fenced(String lock, List<String> argv) {
    List<String> out =
        new java.util.ArrayList<>(
            List.of(
                "setsid",
                "--wait",
                "flock",
                "--exclusive",
                "--nonblock",
                "--conflict-exit-code",
                Integer.toString(LOCK_BUSY),
                lock));
    out.addAll(argv);
    return List.copyOf(out);
  }

  /** flock's exit code when the lock is held by someone else. */
  public static final int LOCK_BUSY = 75;

  /** Exit 0 when nobody holds the lock, {@value #LOCK_BUSY} when someone does. */
  public static List<String> lockFree(String lock) {
    return List.of(
        "flock", "--exclusive", "--nonblock", "--conflict-exit-code", "75", lock, "true");
  }

  /** The inode of a file, to find its holders in {@code /proc/locks}. */
  public static List<String> inode(String file) {
    return List.of("stat", "-L", "-c", "%i", "--", file);
  }

  public static List<String> procLocks() {
    return List.of("cat", "/proc/locks");
  }

  /** The NUL-separated argv of a process, to confirm it is ours before signalling it. */
  public static List<String> cmdline(long pid) {
    return List.of("cat", "/proc/" + pid + "/cmdline");
  }

  /**
   * Sends {@code signal} and then SIGCONT (a stopped process acts on it) to each process group. No
   * kill(1) is in the Debian-slim PostgreSQL images (it is procps); perl-base is essential in
   * Debian. The script is a constant; the signal name and the numeric group ids are arguments.
   */
  public static List<String> signalGroups(String signal, List<Long> groups) {
    List<String> argv =
        new java.util.ArrayList<>(
            List.of(
                "perl",
                "-e",
                "my $s = shift; kill('-' . $s, @ARGV); kill('-CONT', @ARGV);",
                "--",
                signal));
    groups.forEach(g -> argv.add(Long.toString(g)));
    return List.copyOf(argv);
  }

  /** The program a command line runs, past the {@link #fenced} wrapper: for messages. */
  public static String describe(List<String> argv) {
    if (argv.size() > 8 && argv.get(0).equals("setsid") && argv.get(2).equals("flock")) {
      return argv.get(8);
    }
    return argv.isEmpty() ? "" : argv.get(0);
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

  /** {@code tar -xzf} for a {@code .tar.gz}, plain {@code tar -xf} for a {@code .tar}. */
  public static List<String> extract(String archive, String into) {
    return List.of("tar", archive.endsWith(".gz") ? "-xzf" : "-xf", archive, "-C", into);
  }

  /** A plain tar from stdin into {@code into}: an archive decompressed on the worker. */
  public static List<String> extractStdin(String into) {
    return List.of("tar", "-xf", "-", "-C", into);
  }

  public static List<String> chownRecursive(String owner, String dir) {
    return List.of("chown", "-R", owner, "--", dir);
  }

  public static List<String> controlData(String pgdata) {
    return List.of("pg_controldata", pgdata);
  }

  /**
   * The command of the restore image's short-lived pod: the server's version, printed and exited
   * (postgres handles {@code --version} before it checks who runs it; src/backend/main/main.c).
   */
  public static List<String> postgresVersion() {
    return List.of("postgres", "--version");
  }

  /**
   * The census query through psql on the pod's server over 127.0.0.1:5432 (the legacy db pod, the
   * rehearsal pod): unaligned, tab-separated, no psqlrc, stopping at the first error.
   */
  public static List<String> census(String user, String database, String sql) {
    return query(List.of("-h", "127.0.0.1", "-p", "5432", "-U", user), database, sql);
  }

  /**
   * The census in a CNPG instance pod: {@code psql -U postgres} as {@code kubectl cnpg psql} runs
   * it (cloudnative-pg internal/cmd/plugin/psql/psql.go), over the socket the pod's PGHOST and
   * PGPORT name (pkg/specs/pods.go sets both in the postgres container).
   */
  public static List<String> censusInInstance(String database, String sql) {
    return query(List.of("-U", "postgres"), database, sql);
  }

  /**
   * psql on {@code connection}: unaligned, tab-separated, no psqlrc, stopping at the first error.
   */
  private static List<String> query(List<String> connection, String database, String sql) {
    List<String> argv = new java.util.ArrayList<>(List.of("psql", "-X"));
    argv.addAll(connection);
    argv.addAll(List.of("-d", database, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql));
    return List.copyOf(argv);
  }

  /** A directory only its owner may enter, as PostgreSQL requires of a data directory. */
  public static List<String> mkdirPrivate(String dir) {
    return List.of("mkdir", "-p", "-m", "0700", dir);
  }

  /**
   * Starts PostgreSQL on a restored data directory and waits (-w) until it accepts connections,
   * which it does only once recovery from the backup has reached a consistent state. The options
   * string is pg_ctl's (it hands it to the server's command line); it is built from constants and
   * the scratch directory, never from input: listen on 127.0.0.1:5432 only, sockets in {@code
   * socketDir}, no WAL archiving from the copy.
   */
  public static List<String> pgCtlStart(String pgdata, String log, String socketDir, long seconds) {
    return List.of(
        "pg_ctl",
        "-D",
        pgdata,
        "-l",
        log,
        "-w",
        "-t",
        Long.toString(seconds),
        "-o",
        "-c listen_addresses=127.0.0.1 -p 5432 -k " + socketDir + " -c archive_mode=off",
        "start");
  }

  public static List<String> pgCtlStop(String pgdata) {
    return List.of("pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop");
  }

  /** The last lines of a log file. */
  public static List<String> tail(String file, int lines) {
    return List.of("tail", "-n", Integer.toString(lines), file);
  }
}
