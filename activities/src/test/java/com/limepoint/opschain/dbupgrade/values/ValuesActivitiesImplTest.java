package com.limepoint.opschain.dbupgrade.values;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities.Kind;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

class ValuesActivitiesImplTest {

  static final String VALUES =
      """
      # OpsChain values for production
      api:
        replicas: 2 # two for HA
      db:
        # the legacy database volume
        volume:
          storageClass: fast-ssd
          accessMode: ReadWriteOnce
          size: "50Gi"
        password: hunter2
      ingress:
        host: opschain.example.com
      """;

  final ValuesActivitiesImpl values = new ValuesActivitiesImpl();

  @Test
  void theMigrationValuesAreRefusedWhenCnpgsStorageCannotHoldTheDatabaseAndItsImportDump(
      @TempDir Path dir) throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, VALUES);
    String out = dir.resolve("out").toString();
    long gib = 1L << 30;

    // 45 GiB of database fits the 50Gi volume alone, but not with CNPG's 6 GiB dump beside it.
    values.prepareValues(
        new ValuesActivities.ValuesRequest(in.toString(), out, Kind.MIGRATION, true, 45 * gib));
    assertThatThrownBy(() ->
            values.prepareValues(
                new ValuesActivities.ValuesRequest(
                    in.toString(), out, Kind.MIGRATION, false, 45 * gib, 6 * gib)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            e -> {
              assertThat(e.getType()).isEqualTo(FailureTypes.INVALID_VALUES);
              assertThat(e.isNonRetryable()).isTrue();
              assertThat(e.getOriginalMessage())
                  .contains("plus the dump CNPG's import writes beside it", "at least 51Gi")
                  .doesNotContain("hunter2");
            });
    assertThat(dir.resolve("out/values.migration.yaml")).doesNotExist();

    ValuesActivities.ValuesResult fits =
        values.prepareValues(
            new ValuesActivities.ValuesRequest(
                in.toString(), out, Kind.MIGRATION, false, 45 * gib, 4 * gib));
    assertThat(Path.of(fits.path())).exists();
  }

  @Test
  void migrationAddsRecoveryModeAndCopiesTheVolumeKeepingCommentsAndOrder(@TempDir Path dir)
      throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, VALUES);

    ValuesActivities.ValuesResult r =
        values.prepareValues(
            new ValuesActivities.ValuesRequest(
                in.toString(), dir.resolve("out").toString(), Kind.MIGRATION, false));

    String out = Files.readString(Path.of(r.path()));
    assertThat(r.path()).endsWith("values.migration.yaml");
    assertThat(out)
        .contains(
            "# OpsChain values for production", "# two for HA", "# the legacy database volume");
    assertThat(out.indexOf("api:")).isLessThan(out.indexOf("db:"));
    assertThat(out.indexOf("db:")).isLessThan(out.indexOf("ingress:"));
    Map<String, Object> db = db(out);
    assertThat(db).containsEntry("recoveryMode", true);
    assertThat(db.get("volume"))
        .isEqualTo(
            Map.of("storageClass", "fast-ssd", "accessMode", "ReadWriteOnce", "size", "50Gi"));
    assertThat(db.get("cnpg"))
        .isEqualTo(Map.of("storage", Map.of("storageClass", "fast-ssd", "size", "50Gi")));
    assertThat(Files.readString(in)).isEqualTo(VALUES);
  }

  @Test
  @SuppressWarnings("unchecked") // YAML maps, as SnakeYAML reads them
  void absentVolumeGetsTheRunbookDefaults(@TempDir Path dir) throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, "db:\n  cnpg:\n    instances: 1\n");

    String out =
        Files.readString(
            Path.of(
                values
                    .prepareValues(
                        new ValuesActivities.ValuesRequest(
                            in.toString(), dir.toString(), Kind.MIGRATION, false))
                    .path()));

    Map<String, Object> storage =
        (Map<String, Object>) ((Map<String, Object>) db(out).get("cnpg")).get("storage");
    assertThat(storage).containsEntry("storageClass", null).containsEntry("size", "10Gi");
    assertThat((Map<String, Object>) db(out).get("cnpg")).containsEntry("instances", 1);
  }

  @Test
  void finalValuesDropRecoveryModeAndVolumeButKeepCnpgStorage(@TempDir Path dir) throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, VALUES.replace("db:\n", "db:\n  recoveryMode: true\n"));

    String out =
        Files.readString(
            Path.of(
                values
                    .prepareValues(
                        new ValuesActivities.ValuesRequest(
                            in.toString(), dir.toString(), Kind.FINAL, false))
                    .path()));

    Map<String, Object> db = db(out);
    assertThat(db).doesNotContainKeys("recoveryMode", "volume").containsKey("cnpg");
    assertThat(db.get("cnpg"))
        .isEqualTo(Map.of("storage", Map.of("storageClass", "fast-ssd", "size", "50Gi")));
    assertThat(out).contains("# OpsChain values for production");
  }

  @Test
  void historyGetsTheKeyPathsChangedAndTheFilesHashNeverTheValuesContent(@TempDir Path dir)
      throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, VALUES);

    ValuesActivities.ValuesResult r =
        values.prepareValues(
            new ValuesActivities.ValuesRequest(
                in.toString(), dir.toString(), Kind.MIGRATION, false));

    byte[] written = Files.readAllBytes(Path.of(r.path()));
    String sha =
        java.util.HexFormat.of()
            .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(written));
    assertThat(r.diff())
        .startsWith(
            "values.migration.yaml ("
                + written.length
                + " bytes, sha256 "
                + sha
                + ") from values.yaml, keys changed:\n")
        .contains(
            "+ db.cnpg.storage.storageClass: fast-ssd (from db.volume.storageClass)",
            "+ db.cnpg.storage.size: 50Gi (from db.volume.size)",
            "+ db.recoveryMode: true",
            "diff -u " + in + " " + r.path())
        // Nothing of the file the workflow did not compute: no secret, no neighbouring line.
        .doesNotContain("hunter2", "password", "opschain.example.com", "replicas", "# ");
    var fin =
        values.prepareValues(
            new ValuesActivities.ValuesRequest(in.toString(), dir.toString(), Kind.FINAL, true));
    assertThat(fin.diff()).contains("- db.volume").doesNotContain("- db.recoveryMode");
  }

  @Test
  void aSecondCallWritesTheSameFile(@TempDir Path dir) throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, VALUES);
    var req =
        new ValuesActivities.ValuesRequest(in.toString(), dir.toString(), Kind.MIGRATION, false);

    String first = Files.readString(Path.of(values.prepareValues(req).path()));
    long modified = Files.getLastModifiedTime(dir.resolve("values.migration.yaml")).toMillis();
    Thread.sleep(20);
    String second = Files.readString(Path.of(values.prepareValues(req).path()));

    assertThat(second).isEqualTo(first);
    assertThat(Files.getLastModifiedTime(dir.resolve("values.migration.yaml")).toMillis())
        .isEqualTo(modified);
  }

  @Test
  void malformedYamlIsInvalidValuesNamingTheLine(@TempDir Path dir) throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, "db:\n  volume:\n    size: 10Gi\n  bad: [unclosed\n");

    assertThatThrownBy(() ->
            values.prepareValues(
                new ValuesActivities.ValuesRequest(
                    in.toString(), dir.toString(), Kind.MIGRATION, false)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.INVALID_VALUES);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage()).startsWith(in + " line 5:");
            });
  }

  @Test
  void aMissingDbSectionIsInvalidValues(@TempDir Path dir) throws Exception {
    Path in = dir.resolve("values.yaml");
    Files.writeString(in, "api:\n  replicas: 1\n");

    assertThatThrownBy(() ->
            values.prepareValues(
                new ValuesActivities.ValuesRequest(
                    in.toString(), dir.toString(), Kind.FINAL, false)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> assertThat(f.getOriginalMessage()).contains("line 1", "no db section"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> db(String yaml) {
    return (Map<String, Object>) ((Map<String, Object>) new Yaml().load(yaml)).get("db");
  }
}
