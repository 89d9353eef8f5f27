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

  /** Copies database {@code db} of {@code from} into this server (pg_dump | psql, no shell). */
  public void importFrom(LocalPostgres from, String db) throws IOException {
    List<Process> ps =
        ProcessBuilder.startPipeline(
            List.of(
                new ProcessBuilder(
                    BIN.resolve("pg_dump").toString(),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    Integer.toString(from.port),
                    "-U",
                    "postgres",
                    "--no-owner",
                    db),
                new ProcessBuilder(
                        BIN.resolve("psql").toString(),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        Integer.toString(port),
                        "-U",
                        "postgres",
                        "-d",
                        db,
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-q")
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)));
    try {
      for (Process p : ps) {
        if (p.waitFor() != 0) {
          throw new IOException(
              "import of "
                  + db
                  + " failed: "
                  + new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
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
                "-p " + port + " -k " + pgdata + " -c listen_addresses=127.0.0.1",
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
