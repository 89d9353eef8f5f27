package com.limepoint.opschain.dbupgrade.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.failure.ApplicationFailure;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class UpgradeRequestTest {

  static final String README_EXAMPLE =
      """
      {"namespace":"opschain","release":"opschain","chart":"opschain/opschain",
       "currentVersion":"2025-10-01","targetVersion":"2026-02-10",
       "valuesFile":"/etc/opschain/values.yaml","approvers":["alice","bob"]}
      """;

  @Test
  void theReadmeExampleDecodesAndGetsTheRunbookDefaults() {
    UpgradeRequest r = decode(README_EXAMPLE, UpgradeRequest.class);
    UpgradeRequest v = UpgradeRequests.validate(r, "opschain-db-upgrade-opschain");

    assertThat(r.inputProblems()).isEmpty();
    assertThat(v.dbDeployment()).isEqualTo("opschain-db");
    assertThat(v.clusterName()).isEqualTo("opschain-db");
    assertThat(v.restartDeployments())
        .containsExactly("opschain-api", "opschain-api-worker", "opschain-log-aggregator");
    assertThat(v.hostBackupDir()).isEqualTo("/limepoint/backup");
    assertThat(v.podBackupDir()).isEqualTo("/tmp/backup");
    assertThat(v.maxRate()).isEqualTo("300M");
    assertThat(v.restoreImage()).isEqualTo("limepoint/opschain-db:17.5");
    assertThat(v.pvcName()).isEqualTo("opschain-db-1");
    assertThat(v.pgdata()).isEqualTo("/var/lib/postgresql/data/pgdata");
    assertThat(v.dataOwner()).isEqualTo("26:26");
    assertThat(v.approvers()).containsExactly("alice", "bob");
    assertThat(v.dryRunRequested()).isFalse();
    assertThat(v.gatesSkipped()).isFalse();
    // Streamed to the host, zstd where the server has it (README, "How the backup is taken").
    assertThat(v.backupMode()).isEqualTo("stream");
    assertThat(v.backupFormat()).isEqualTo("auto");
  }

  @Test
  void pvcNameFollowsClusterNameUnlessGiven() {
    Map<String, Object> json = new java.util.HashMap<>(validJson());
    json.put("clusterName", "billing-db");
    UpgradeRequest derived = UpgradeRequests.validate(UpgradeRequest.fromJson(json), null);
    json.put("pvcName", "billing-db-2");
    UpgradeRequest given = UpgradeRequests.validate(UpgradeRequest.fromJson(json), null);

    // CNPG's data PVC of the first instance is <cluster>-1, not the runbook's opschain-db-1.
    assertThat(derived.pvcName()).isEqualTo("billing-db-1");
    assertThat(given.pvcName()).isEqualTo("billing-db-2");
  }

  @Test
  void unknownFieldsAndWrongTypesAreCollectedNotThrown() {
    UpgradeRequest r =
        decode(
            "{\"namespace\":\"opschain\",\"dryRun\":\"yes\",\"approvers\":\"alice\",\"colour\":1}",
            UpgradeRequest.class);

    assertThat(r.inputProblems())
        .anyMatch(p -> p.startsWith("colour: unknown field"))
        .anyMatch(p -> p.startsWith("dryRun: must be true or false"))
        .anyMatch(p -> p.startsWith("approvers: must be a list of strings"));
    assertThatThrownBy(() -> UpgradeRequests.validate(r, null))
        .isInstanceOf(ApplicationFailure.class)
        .hasMessageContaining("colour: unknown field")
        .hasMessageContaining("release: required");
  }

  static Stream<Arguments> badFields() {
    return Stream.of(
        Arguments.of("namespace", "OpsChain", "namespace: 'OpsChain' is not an RFC 1123 label"),
        Arguments.of("namespace", "a".repeat(64), "is not an RFC 1123 label"),
        Arguments.of("release", "rel;rm -rf /", "release:"),
        Arguments.of("chart", "--post-renderer=/bin/evil", "chart:"),
        Arguments.of(
            "currentVersion", "latest", "currentVersion: 'latest' is not an OpsChain version"),
        Arguments.of("targetVersion", "2025-12-01", "targetVersion: must be 2026-01-27 or later"),
        Arguments.of(
            "targetVersion",
            "2026-02-30",
            "targetVersion: '2026-02-30' is not an OpsChain version"),
        Arguments.of("valuesFile", "values.yaml", "valuesFile:"),
        Arguments.of("backupMode", "kubectl-cp", "backupMode: 'stream' (straight to the worker"),
        Arguments.of("backupFormat", "lz4", "backupFormat: 'auto' (zstd on PostgreSQL 15"),
        Arguments.of("backupFormat", "-z", "backupFormat:"),
        Arguments.of("pgdata", "/", "pgdata:"),
        Arguments.of("pgdata", "/pgdata", "at least 2 levels deep"),
        Arguments.of("podBackupDir", "/tmp/$(id)", "podBackupDir:"),
        // The restore pod uploads to podBackupDir and empties pgdata: neither may hold the other.
        Arguments.of(
            "podBackupDir",
            "/var/lib/postgresql/data/pgdata",
            "podBackupDir: '/var/lib/postgresql/data/pgdata' must not be, contain or lie inside"
                + " pgdata"),
        Arguments.of("podBackupDir", "/var/lib/postgresql/data/pgdata/backup", "inside pgdata"),
        Arguments.of("podBackupDir", "/var/lib/postgresql", "must not be, contain"),
        Arguments.of("maxRate", "fast", "maxRate:"),
        Arguments.of("dataOwner", "postgres", "dataOwner:"),
        Arguments.of("importTimeout", "10s", "importTimeout: '10s' must be between 1m and 30d"),
        Arguments.of("gateTimeout", "forever", "gateTimeout: 'forever' is not a duration"),
        Arguments.of("hibernateBy", "magic", "hibernateBy: must be 'helm' or 'annotation'"),
        Arguments.of("dbDeployment", "Opschain_DB", "dbDeployment:"));
  }

  @ParameterizedTest
  @MethodSource("badFields")
  void eachBadFieldIsNamedInOneInvalidRequest(String field, String value, String message) {
    Map<String, Object> json = new java.util.HashMap<>(validJson());
    json.put(field, value);
    UpgradeRequest r = UpgradeRequest.fromJson(json);

    assertThatThrownBy(() -> UpgradeRequests.validate(r, null))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.INVALID_REQUEST);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage()).contains(message);
            });
  }

  @Test
  void aCopyWithOneFieldChangedKeepsEveryOtherFieldAndReportsAWrongNameOrType() {
    UpgradeRequest r = UpgradeRequest.fromJson(validJson());
    UpgradeRequest dry = r.withDryRun(true);
    assertThat(dry.dryRunRequested()).isTrue();
    assertThat(dry.withDryRun(false)).isEqualTo(r.with("dryRun", false));
    assertThat(dry).usingRecursiveComparison().ignoringFields("dryRun").isEqualTo(r);
    assertThat(r.withApprovers(List.of("alice")).approvers()).containsExactly("alice");
    assertThat(r.with("dryrun", true).inputProblems())
        .singleElement()
        .asString()
        .startsWith("dryrun: unknown field");
    UpgradeRequest wrongType = r.with("skipGates", "yes");
    assertThat(wrongType.inputProblems())
        .containsExactly("skipGates: must be true or false, got a string");
    assertThat(wrongType.withDryRun(true).inputProblems()).isEqualTo(wrongType.inputProblems());
    assertThatThrownBy(() -> UpgradeRequests.validate(wrongType, "opschain-db-upgrade-opschain"))
        .isInstanceOf(ApplicationFailure.class)
        .hasMessageContaining("skipGates: must be true or false");
  }

  @Test
  void theWorkflowIdMustBeDerivedFromTheNamespace() {
    UpgradeRequest r = UpgradeRequest.fromJson(validJson());
    assertThat(UpgradeRequests.validate(r, "opschain-db-upgrade-opschain").namespace())
        .isEqualTo("opschain");
    assertThatThrownBy(() -> UpgradeRequests.validate(r, "opschain-db-upgrade-other"))
        .hasMessageContaining("must be 'opschain-db-upgrade-opschain'");
  }

  @Test
  void durationsAcceptShortAndIsoForms() {
    assertThat(UpgradeRequests.parseDuration("90s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(UpgradeRequests.parseDuration("12h")).isEqualTo(Duration.ofHours(12));
    assertThat(UpgradeRequests.parseDuration("7d")).isEqualTo(Duration.ofDays(7));
    assertThat(UpgradeRequests.parseDuration("PT30M")).isEqualTo(Duration.ofMinutes(30));
  }

  static Stream<Object> records() {
    BackupFile f = new BackupFile("base.tar.gz", 10L, "ab", 10L, "ab");
    BackupEvidence e = new BackupEvidence("h", "/d", List.of(f), List.of("gzip -t"), true);
    StepStatus s =
        new StepStatus("takeBackup", "d", StepState.DONE, "2026-01-01T00:00:00Z", null, "ok");
    ApprovalEntry a = new ApprovalEntry("START", "alice", "t", "c", "APPROVED", "update", null);
    GateEvidence g = new GateEvidence("sum", List.of("x"), e, "--- a\n+++ b\n");
    return Stream.of(
        UpgradeRequests.withDefaults(UpgradeRequest.fromJson(validJson())),
        new GateDecision("BACKUP_VERIFIED", "alice", "ok"),
        new AbortRequest("alice", "window closed"),
        new Progress("takeBackup", 42.5, 10L, 20L, "copying", List.of("line"), "t"),
        new UpgradeStatus(
            "id",
            "ns",
            Phase.BACKING_UP,
            "m",
            new OpenGate(Gate.START, "q", "t", "t2", List.of("alice"), g),
            List.of(s),
            List.of(a),
            null,
            e,
            null,
            false),
        new UpgradeReport(
            Outcome.COMPLETED,
            "r",
            "ns",
            "2025-10-01",
            "2026-02-10",
            List.of(s),
            e,
            List.of(a),
            List.of(new PlannedChange("upgradeRelease", "helm upgrade", true)),
            false),
        new ClusterActivities.PreflightResult(true, false, 5L, List.of("ok")),
        new HelmActivities.UpgradeRequest(
            "ns",
            "rel",
            "chart",
            "2026-02-10",
            List.of("/v.yaml"),
            Map.of("stopped", "true"),
            "stop",
            60,
            false,
            false),
        new BackupActivities.PodBackup("pod", "/tmp/backup", List.of(f), true),
        new CnpgActivities.ImportResult("Cluster in healthy state", 1, 1, 5, List.of("log")),
        new RestorePodActivities.ControlDataResult("in production", "out"),
        new RestorePodActivities.RestoreTargetRequest(
            "ns", "opschain-db", "opschain-db-1", "postgres:15", "15", 300),
        new RestorePodActivities.RestoreTargetCheck(
            "postgres:16",
            "postgres (PostgreSQL) 16.2",
            "16",
            "15",
            "opschain-db-1",
            true,
            Map.of("cnpg.io/cluster", "opschain-db"),
            List.of("Cluster/opschain-db"),
            List.of("restoreImage postgres:16 is PostgreSQL 16 but the backup is PostgreSQL 15")),
        new BackupActivities.BackupPgVersionRequest("/limepoint/backup"),
        new BackupActivities.BackupPgVersion("/limepoint/backup", "15"),
        new ValuesActivities.ValuesRequest("/v.yaml", "/out", ValuesActivities.Kind.FINAL, true));
  }

  @ParameterizedTest
  @MethodSource("records")
  void everyRecordRoundTripsThroughTheDefaultDataConverter(Object value) {
    Object back = decode(encode(value), value.getClass());
    assertThat(back).isEqualTo(value);
  }

  static Map<String, Object> validJson() {
    return Map.of(
        "namespace", "opschain",
        "release", "opschain",
        "chart", "opschain/opschain",
        "currentVersion", "2025-10-01",
        "targetVersion", "2026-02-10",
        "valuesFile", "/etc/opschain/values.yaml");
  }

  private static String encode(Object value) {
    Payload p = DefaultDataConverter.STANDARD_INSTANCE.toPayload(value).orElseThrow();
    return p.getData().toString(StandardCharsets.UTF_8);
  }

  private static <T> T decode(String json, Class<T> type) {
    Payload p =
        Payload.newBuilder()
            .putMetadata("encoding", com.google.protobuf.ByteString.copyFromUtf8("json/plain"))
            .setData(com.google.protobuf.ByteString.copyFromUtf8(json))
            .build();
    return DefaultDataConverter.STANDARD_INSTANCE.fromPayload(p, type, type);
  }
}
