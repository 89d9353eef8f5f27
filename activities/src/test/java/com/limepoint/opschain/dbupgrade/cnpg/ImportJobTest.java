package com.limepoint.opschain.dbupgrade.cnpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The error a failed import pod ends with, compared between two of the Job's pods: what differs
 * from run to run (the time, the pod, a process id) is not part of it; the cause is.
 */
class ImportJobTest {

  /**
   * A failed import's log in the shape CNPG's import pod writes it: JSON lines with {@code ts} and
   * {@code logging_pod} (cloudnative-pg pkg/management/log), pg_restore's stderr as the {@code msg}
   * of an info line (machinery execlog), CNPG's "Error while bootstrapping data directory" with the
   * runner's error (internal/cmd/manager/instance/initdb, logicalimport/database.go), then the
   * command's own plain "Error:" line.
   */
  static List<String> cnpgLog(String pod, String ts, String cause) {
    String wrapped =
        "while executing logical import: error while executing pg_restore, section:pre-data,"
            + " exit status 1";
    return List.of(
        json(ts, pod, "info", "starting the import of database opschain", null),
        json(ts, pod, "info", "pg_restore: error: could not execute query: " + cause, null),
        json(ts, pod, "error", "Error while bootstrapping data directory", wrapped),
        "Error: " + wrapped);
  }

  static String json(String ts, String pod, String level, String msg, String error) {
    return "{\"level\":\""
        + level
        + "\",\"ts\":\""
        + ts
        + "\",\"msg\":\""
        + msg.replace("\"", "\\\"")
        + "\",\"logging_pod\":\""
        + pod
        + "\""
        + (error == null ? "" : ",\"error\":\"" + error + "\"")
        + "}";
  }

  @Test
  void twoRunsWithTheSameCauseAreTheSameAndNameTheCause() {
    String cause = "ERROR:  role \"app\" does not exist";
    String a = ImportJob.errorOf(cnpgLog("db-1-import-abcde", "2026-12-07T10:00:01.1Z", cause));
    String b = ImportJob.errorOf(cnpgLog("db-1-import-fghjk", "2026-12-07T10:00:13.9Z", cause));

    assertThat(a).isEqualTo(b).contains("pg_restore: error", "role \"app\" does not exist");
    assertThat(ImportJob.passing(a)).isFalse();
  }

  @Test
  void anotherCauseIsNotTheSameThoughCnpgsOwnLinesAre() {
    assertThat(
            ImportJob.errorOf(
                cnpgLog("p1", "2026-12-07T10:00:01Z", "ERROR:  role \"app\" does not exist")))
        .isNotEqualTo(
            ImportJob.errorOf(
                cnpgLog(
                    "p2", "2026-12-07T10:00:13Z", "ERROR:  relation \"items\" already exists")));
  }

  @Test
  void aSourceOutOfReachIsPassingNotTheImportsOwnError() {
    String e =
        ImportJob.errorOf(
            List.of(
                json(
                    "2026-12-07T10:00:01Z",
                    "p1",
                    "info",
                    "pg_dump: error: connection to server at \"opschain-db\" (10.0.0.5), port 5432"
                        + " failed: Connection refused",
                    null),
                json(
                    "2026-12-07T10:00:01Z",
                    "p1",
                    "error",
                    "Error while bootstrapping data directory",
                    "while executing logical import: error in pg_dump, exit status 1")));

    assertThat(e).contains("Connection refused");
    assertThat(ImportJob.passing(e)).isTrue();
  }

  @Test
  void plainLinesLoseTheirTimestampAndPid() {
    assertThat(
            ImportJob.errorOf(
                List.of(
                    "2026-12-07 10:00:01.123 UTC [4711] FATAL:  role \"app\" does not exist",
                    "done")))
        .isEqualTo(
            ImportJob.errorOf(
                List.of(
                    "2026-12-07 10:00:14.456 UTC [4802] FATAL:  role \"app\" does not exist",
                    "done")))
        .contains("FATAL:  role \"app\" does not exist");
  }

  @Test
  void aPodKilledPartWayShowsNoError() {
    // PostgreSQL's own log records come through as msg "record", whose fields name
    // error_severity whatever happened (cloudnative-pg pkg/management/postgres/logpipe).
    assertThat(
            ImportJob.errorOf(
                List.of(
                    "{\"level\":\"info\",\"ts\":\"2026-12-07T10:00:01Z\",\"msg\":\"record\","
                        + "\"record\":{\"error_severity\":\"LOG\",\"message\":\"checkpoint"
                        + " starting\"}}",
                    json("2026-12-07T10:00:02Z", "p1", "info", "restoring table items", null))))
        .isNull();
    assertThat(ImportJob.errorOf(List.of())).isNull();
    assertThat(ImportJob.errorOf(List.of("(no log: pods \"x\" not found)"))).isNull();
  }
}
