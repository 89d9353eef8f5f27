package com.limepoint.opschain.dbupgrade.testkit;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL 15 from Debian, run as its own cluster on a free loopback port: the database
 * behind the harness's db pod, and the server that proves a restored pgdata works. As root it runs
 * the server as the {@code postgres} user; otherwise as the current user.
 */
public final class LocalPostgres implements AutoCloseable {

  public static final Path BIN = PodRuntime.PG_BIN;

  private final Path pgdata;
  private final int port;
  private boolean running;

  private LocalPostgres(Path pgdata, int port) {
    this.pgdata = pgdata;
    this.port = port;
  }

  /** True when the PostgreSQL 15 server binaries are installed. */
  public static boolean available() {
    return Files.isExecutable(BIN.resolve("initdb"))
        && Files.isExecutable(BIN.resolve("pg_basebackup"));
  }

  /** initdb in {@code pgdata} (created, owned by the server user), start, and create the role. */
  public static LocalPostgres init(Path pgdata, String role) throws IOException {
    Files.createDirectories(pgdata.getParent());
    openForServerUser(pgdata.getParent());
    Files.createDirectories(
        pgdata, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    chownToServerUser(pgdata);
    run(
        asServerUser(
            List.of(
                BIN.resolve("initdb").toString(),
                "-D",
                pgdata.toString(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync")));
    LocalPostgres pg = new LocalPostgres(pgdata, freePort());
    Files.writeString(
        pgdata.resolve("postgresql.auto.conf"),
        "wal_level = replica\nmax_wal_senders = 4\nlisten_addresses = '127.0.0.1'\n",
        java.nio.file.StandardOpenOption.APPEND);
    pg.start();
    pg.sql("postgres", "CREATE ROLE " + role + " LOGIN SUPERUSER REPLICATION");
    pg.sql("postgres", "CREATE DATABASE " + role + " OWNER " + role);
    return pg;
  }

  /** Starts a server on an existing pgdata (a restored one), on a new free port. */
  public static LocalPostgres startExisting(Path pgdata) throws IOException {
    openForServerUser(pgdata.getParent());
    chownToServerUser(pgdata);
    LocalPostgres pg = new LocalPostgres(pgdata, freePort());
    pg.start();
    return pg;
  }

  public int port() {
    return port;
  }

  public Path pgdata() {
    return pgdata;
  }

  /** Runs SQL through psql over TCP and returns its unaligned, tuples-only output. */
  public String sql(String database, String sql) throws IOException {
    return run(List.of(
            BIN.resolve("psql").toString(),
            "-h",
            "127.0.0.1",
            "-p",
            Integer.toString(port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            sql))
        .trim();
  }

  /**
   * Copies database {@code db} of {@code from} into this server the way CloudNativePG's {@code
   * microservice} import does it (read at v1.30.0, {@code pkg/management/postgres/logicalimport}),
   * so the harness's import costs what the real one costs:
   *
   * <ol>
   *   <li>the instance runs with {@code fsync=off}, {@code wal_level=minimal}, {@code
   *       full_page_writes=off}, {@code archive_mode=off}, {@code max_wal_senders=0} while it
   *       imports ({@code configurePostgresForImport}, configuration.go:441-452);
   *   <li>{@code pg_dump -Fd} writes the whole dump to {@code $PGDATA/dumps/<db>.dump} first
   *       (database.go:104-124; directory format, so gzip-compressed by pg_dump's default, one
   *       thread, no {@code --jobs} unless {@code pgDumpExtraOptions} adds it); nothing is piped;
   *   <li>then {@code pg_restore --no-owner --no-privileges --role=<owner>} runs three times, for
   *       the pre-data, data and post-data sections in that order (database.go:185-250);
   *   <li>the dump directory is deleted, then {@code ANALYZE VERBOSE} (microservice.go:43-89);
   *   <li>the normal configuration is put back and {@code initdb --sync-only} flushes the data
   *       before the instance starts for good (initdb.go:556-566, 625-638).
   * </ol>
   *
   * CNPG also makes the owner a superuser for the restore and drops user extensions in the empty
   * target; the harness's owner role is a superuser already and its databases have no extensions.
   * Commands are argv lists, no shell.
   */
  public void importFrom(LocalPostgres from, String db) throws IOException {
    close();
    start(
        "-c fsync=off -c wal_level=minimal -c full_page_writes=off -c archive_mode=off"
            + " -c max_wal_senders=0");
    Path dumps = pgdata.resolve("dumps");
    Path dump = dumps.resolve(db + ".dump");
    Files.createDirectories(dumps);
    chownToServerUser(dumps);
    String source =
        "host=127.0.0.1 port=" + from.port + " user=postgres dbname=" + db + " sslmode=disable";
    runLong(
        List.of(
            BIN.resolve("pg_dump").toString(),
            "-Fd",
            "-f",
            dump.toString(),
            "-d",
            source,
            "-v",
            "--section=pre-data",
            "--section=data",
            "--section=post-data"));
    for (String section : List.of("pre-data", "data", "post-data")) {
      runLong(
          List.of(
              BIN.resolve("pg_restore").toString(),
              "-h",
              "127.0.0.1",
              "-p",
              Integer.toString(port),
              "-U",
              "postgres",
              "--no-owner",
              "--no-privileges",
              "--role=" + db,
              "-d",
              db,
              "--section",
              section,
              dump.toString()));
    }
    run(List.of("rm", "-rf", dumps.toString()));
    sql(db, "ANALYZE VERBOSE");
    close();
    if (Thread.currentThread().isInterrupted()) {
      throw new IOException("interrupted: the import of " + db + " stopped, its server too");
    }
    run(asServerUser(List.of(BIN.resolve("initdb").toString(), "--sync-only", "-D", pgdata + "")));
    start("");
  }

  /**
   * A command that may run for as long as the data takes (a dump, a restore), as the server user
   * (CNPG's import runs as postgres); no shell. Its stderr goes to a file beside the server's log,
   * so waiting never depends on reading it, and an interrupt kills it and its children at once.
   */
  private void runLong(List<String> argv) throws IOException {
    if (Thread.currentThread().isInterrupted()) {
      throw new IOException("interrupted before " + argv.get(0));
    }
    Path err = pgdata.resolveSibling(pgdata.getFileName() + "-logs").resolve("import-stderr.log");
    Process p =
        new ProcessBuilder(asServerUser(argv))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(err.toFile())
            .start();
    try {
      p.waitFor();
    } catch (InterruptedException e) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + argv.get(0) + " killed", e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(
          argv.get(0) + " exited " + p.exitValue() + ": " + tail(Files.readString(err)));
    }
  }

  private static String tail(String text) {
    return text.length() <= 2000 ? text : text.substring(text.length() - 2000);
  }

  /** uid:gid that owns the server's files: what {@code chown -R} must restore to. */
  public static String serverOwner() throws IOException {
    if (!isRoot()) {
      return run(List.of("id", "-u")).trim() + ":" + run(List.of("id", "-g")).trim();
    }
    return run(List.of("id", "-u", "postgres")).trim()
        + ":"
        + run(List.of("id", "-g", "postgres")).trim();
  }

  private void start() throws IOException {
    start("");
  }

  /** pg_ctl start with this port and socket directory, and {@code extra} server options. */
  private void start(String extra) throws IOException {
    Path logs = pgdata.resolveSibling(pgdata.getFileName() + "-logs");
    Files.createDirectories(logs);
    chownToServerUser(logs);
    run(
        asServerUser(
            List.of(
                BIN.resolve("pg_ctl").toString(),
                "-D",
                pgdata.toString(),
                "-l",
                logs.resolve("server.log").toString(),
                "-o",
                "-p " + port + " -k " + pgdata + " -c listen_addresses=127.0.0.1 " + extra,
                "-w",
                "-t",
                "60",
                "start")));
    running = true;
  }

  @Override
  public void close() throws IOException {
    if (running) {
      run(
          asServerUser(
              List.of(
                  BIN.resolve("pg_ctl").toString(),
                  "-D",
                  pgdata.toString(),
                  "-m",
                  "fast",
                  "-w",
                  "stop")));
      running = false;
    }
  }

  private static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static List<String> asServerUser(List<String> argv) {
    if (!isRoot()) {
      return argv;
    }
    List<String> out = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
    out.addAll(argv);
    return out;
  }

  private static void chownToServerUser(Path dir) throws IOException {
    if (isRoot()) {
      run(List.of("chown", "-R", "postgres:postgres", dir.toString()));
    }
  }

  /** The server user must be able to reach its directories. */
  private static void openForServerUser(Path dir) throws IOException {
    for (Path p = dir; p != null && !p.toString().equals("/"); p = p.getParent()) {
      if (Files.exists(p) && isRoot()) {
        var perms = Files.getPosixFilePermissions(p);
        perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
        Files.setPosixFilePermissions(p, perms);
      }
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static String run(List<String> argv) throws IOException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    try {
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("timed out: " + argv);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(
          argv.get(argv.size() > 4 && argv.get(0).equals("runuser") ? 4 : 0)
              + " exited "
              + p.exitValue()
              + ": "
              + text);
    }
    return text;
  }
}
