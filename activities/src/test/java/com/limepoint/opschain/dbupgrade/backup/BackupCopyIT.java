package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.CopyRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The copy out against the pod-side checksums that takeBackup records, on the real control plane
 * with plain files in the pod (no PostgreSQL needed).
 */
class BackupCopyIT {
  static final String NS = "opschain";

  RealCluster box;
  BackupActivitiesImpl backup;
  Path root;
  Path podDir;
  Path hostDir;

  @BeforeEach
  void setUp() throws Exception {
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    box = new RealCluster(NS);
    box.runPod(NS, "db-0", Map.of("app", "db"), 0);
    backup = new BackupActivitiesImpl(box.activityClient(), "test-host");
    root = com.limepoint.opschain.dbupgrade.testkit.Sandbox.create("copy-");
    podDir = root.resolve("pod/backup");
    hostDir = root.resolve("host/backup");
    Files.createDirectories(podDir);
    byte[] data = new byte[3 << 20];
    new Random(7).nextBytes(data);
    Files.write(podDir.resolve("base.tar.gz"), data);
    Files.write(podDir.resolve("pg_wal.tar.gz"), java.util.Arrays.copyOf(data, 4096));
  }

  @AfterEach
  void tearDown() {
    box.close();
    com.limepoint.opschain.dbupgrade.testkit.Sandbox.delete(root);
  }

  @Test
  void theCopyChecksAgainstTheRecordedPodSumsWithoutHashingThePodAgain() throws Exception {
    Map<String, String> sums =
        backup.recordPodChecksums(NS, "db-0", podDir.toString(), podDir + "/.lock");
    assertThat(sums).containsOnlyKeys("base.tar.gz", "pg_wal.tar.gz");
    assertThat(sums.get("base.tar.gz"))
        .isEqualTo(HostFiles.sha256Hex(podDir.resolve("base.tar.gz")));

    BackupEvidence copied =
        backup.copyBackupOut(new CopyRequest(NS, "db-0", podDir.toString(), hostDir.toString()));

    assertThat(copied.files()).allMatch(BackupFile::matches);
    assertThat(box.podCommands()).filteredOn(c -> c.argv().contains("sha256sum")).hasSize(1);
    assertThat(Files.mismatch(hostDir.resolve("base.tar.gz"), podDir.resolve("base.tar.gz")))
        .isEqualTo(-1L);
    assertThat(Files.readString(hostDir.resolve(BackupActivitiesImpl.SUMS)))
        .isEqualTo(Files.readString(podDir.resolve(BackupActivitiesImpl.SUMS)));
  }

  @Test
  void aFileChangedInThePodAfterTheBackupIsAChecksumMismatchAndNothingIsKept() throws Exception {
    backup.recordPodChecksums(NS, "db-0", podDir.toString(), podDir + "/.lock");
    byte[] changed = Files.readAllBytes(podDir.resolve("base.tar.gz"));
    changed[changed.length / 2] ^= 1;
    Files.write(podDir.resolve("base.tar.gz"), changed);

    assertThatThrownBy(() ->
            backup.copyBackupOut(
                new CopyRequest(NS, "db-0", podDir.toString(), hostDir.toString())))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(FailureTypes.BACKUP_CHECKSUM_MISMATCH);
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .contains("base.tar.gz")
                  .contains("the copy was deleted");
            });
    assertThat(hostDir.resolve("base.tar.gz")).doesNotExist();
    assertThat(hostDir.resolve("base.tar.gz.part")).doesNotExist();
  }

  @Test
  void withoutRecordedSumsThePodHashesEachFileDuringTheCopy() throws Exception {
    BackupEvidence copied =
        backup.copyBackupOut(new CopyRequest(NS, "db-0", podDir.toString(), hostDir.toString()));

    assertThat(copied.files()).allMatch(BackupFile::matches);
    assertThat(copied.files())
        .extracting(BackupFile::podSha256)
        .containsExactly(
            HostFiles.sha256Hex(podDir.resolve("base.tar.gz")),
            HostFiles.sha256Hex(podDir.resolve("pg_wal.tar.gz")));
    assertThat(box.podCommands()).filteredOn(c -> c.argv().contains("sha256sum")).hasSize(2);
  }
}
