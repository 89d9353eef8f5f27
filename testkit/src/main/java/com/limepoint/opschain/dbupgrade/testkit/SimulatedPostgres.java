package com.limepoint.opschain.dbupgrade.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The db pod's PostgreSQL commands on a machine without PostgreSQL: the demo runs every step, and
 * says it simulates. {@code pg_basebackup} writes a small but well-formed backup (gzip tar archives
 * holding {@code PG_VERSION} and {@code backup_label}, a WAL segment, a manifest), so the copy, the
 * checksums and the verification run for real on it; {@code psql} answers the size query.
 * Everything else (ls, stat, sha256sum, dd, tar) is the machine's own.
 */
final class SimulatedPostgres {
  /** The port value that marks a pod whose PostgreSQL is simulated. */
  static final int PORT = -1;

  static final long DATABASE_BYTES = 31_457_280L;

  /** The simulated server's major version: its backup's PG_VERSION, as this machine's would be. */
  static final String MAJOR = "15";

  /** What the simulated server's {@code postgres --version} prints. */
  static final String VERSION_LINE =
      "postgres (PostgreSQL) " + MAJOR + ".0 (simulated: PostgreSQL is not installed)";

  /**
   * The census query's answer (table, rows, checksum; tab-separated as psql -At -F prints it): the
   * demo's one table, the same in the legacy database and in the CNPG one, whose import copies
   * nothing when simulated.
   */
  static final String CENSUS = "public.changes\t5000\t6f1ed002ab5595859014ebf0951522d9";

  private SimulatedPostgres() {}

  /** What a simulated PostgreSQL command printed and how it exited. */
  record Result(int exitCode, byte[] stdout, byte[] stderr) {}

  static Optional<Result> run(List<String> argv) throws IOException {
    if (argv.isEmpty()) {
      return Optional.empty();
    }
    return switch (argv.get(0)) {
      case "psql" -> Optional.of(psql(argv));
      case "pg_basebackup" -> Optional.of(basebackup(argv));
      case "sh" -> argv.contains("pg_basebackup") ? Optional.of(streamed(argv)) : Optional.empty();
      default -> Optional.empty();
    };
  }

  /** A simulated data directory and system identifier, as {@code pg_control_system()} gives. */
  static final String DATA_DIRECTORY = "/var/lib/postgresql/data/pgdata";

  static final String SYSTEM_IDENTIFIER = "7312345678901234567";

  /** The size query answers the simulated size; the identity query the simulated identity. */
  private static Result psql(List<String> argv) {
    String sql = argv.get(argv.size() - 1);
    String out =
        sql.equals("SHOW server_version_num")
            ? MAJOR + "0000"
            : sql.contains("data_directory")
                ? DATA_DIRECTORY + "|" + SYSTEM_IDENTIFIER
                : sql.contains("query_to_xml") ? CENSUS : Long.toString(DATABASE_BYTES);
    return new Result(0, (out + "\n").getBytes(StandardCharsets.UTF_8), new byte[0]);
  }

  private static Result basebackup(List<String> argv) throws IOException {
    int d = argv.indexOf("-D");
    if (d < 0 || d + 1 >= argv.size()) {
      return new Result(
          1,
          new byte[0],
          "pg_basebackup: error: no target directory specified\n".getBytes(StandardCharsets.UTF_8));
    }
    Path dir = Path.of(argv.get(d + 1));
    if (Files.exists(dir)) {
      try (var entries = Files.list(dir)) {
        if (entries.findAny().isPresent()) {
          return new Result(
              1,
              new byte[0],
              ("pg_basebackup: error: directory \"" + dir + "\" exists but is not empty\n")
                  .getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    Files.createDirectories(dir);
    Path stage = stage();
    try {
      tar(dir.resolve("base.tar.gz"), stage.resolve("base"));
      tar(dir.resolve("pg_wal.tar.gz"), stage.resolve("wal"));
      Files.writeString(
          dir.resolve("backup_manifest"),
          "{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [], \"Simulated\": true }\n");
    } finally {
      Sandbox.deleteTree(stage);
    }
    String log =
        "pg_basebackup: initiating base backup, waiting for checkpoint to complete\n"
            + "pg_basebackup: checkpoint completed\n"
            + "30720/30720 kB (100%), 1/1 tablespace\n"
            + "pg_basebackup: base backup completed (simulated: PostgreSQL is not installed)\n";
    return new Result(0, new byte[0], log.getBytes(StandardCharsets.UTF_8));
  }

  /** A data directory's few files and one WAL segment, in {@code base} and {@code wal}. */
  private static Path stage() throws IOException {
    Path stage = Files.createTempDirectory("simulated-pgdata-");
    Path base = Files.createDirectories(stage.resolve("base"));
    Files.writeString(base.resolve("PG_VERSION"), MAJOR + "\n");
    Files.writeString(
        base.resolve("backup_label"),
        "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\n"
            + "BACKUP METHOD: streamed\nBACKUP FROM: primary\nLABEL: pg_basebackup base backup (simulated by the demo)\n");
    Files.writeString(
        Files.createDirectories(base.resolve("global")).resolve("pg_control.simulated"),
        "simulated\n");
    Path wal = Files.createDirectories(stage.resolve("wal"));
    Files.write(wal.resolve("000000010000000000000002"), new byte[1 << 20]);
    return stage;
  }

  /**
   * The streamed backup's script ({@code sh -c <script> sh <runDir> pg_basebackup ... -D - ...}):
   * one tar with the WAL under {@code pg_wal/}, as {@code -X fetch} puts it, gzip for {@code -z} or
   * zstd for {@code --compress=server-zstd...}, on stdout; the script's last stderr line carries
   * the exit codes and the SHA-256 of what was sent, as the real script's {@code tee} and {@code
   * sha256sum} would.
   */
  private static Result streamed(List<String> argv) throws IOException {
    Path stage = stage();
    try {
      Path base = stage.resolve("base");
      Files.move(stage.resolve("wal"), base.resolve("pg_wal"));
      ByteArrayOutputStream plain = new ByteArrayOutputStream();
      Process p =
          new ProcessBuilder("tar", "-cf", "-", "-C", base.toString(), ".")
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      p.getInputStream().transferTo(plain);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      boolean zstd = argv.stream().anyMatch(a -> a.startsWith("--compress=server-zstd"));
      try (java.io.OutputStream c =
          zstd
              ? new com.github.luben.zstd.ZstdOutputStream(out, 1)
              : new java.util.zip.GZIPOutputStream(out)) {
        c.write(plain.toByteArray());
      }
      byte[] bytes = out.toByteArray();
      String sha;
      try {
        sha =
            java.util.HexFormat.of()
                .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      String log =
          "pg_basebackup: initiating base backup, waiting for checkpoint to complete\n"
              + "30720/30720 kB (100%), 1/1 tablespace\n"
              + "pg_basebackup: base backup completed (simulated: PostgreSQL is not installed)\n"
              + "opschain-stream-done pg_basebackup=0 tee=0 sha256="
              + sha
              + "\n";
      return new Result(0, bytes, log.getBytes(StandardCharsets.UTF_8));
    } finally {
      Sandbox.deleteTree(stage);
    }
  }

  private static void tar(Path archive, Path from) throws IOException {
    Process p =
        new ProcessBuilder("tar", "-czf", archive.toString(), "-C", from.toString(), ".")
            .redirectErrorStream(true)
            .start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    p.getInputStream().transferTo(out);
    try {
      if (p.waitFor() != 0) {
        throw new IOException("tar failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
