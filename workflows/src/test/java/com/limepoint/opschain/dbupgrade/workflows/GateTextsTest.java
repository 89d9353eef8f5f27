package com.limepoint.opschain.dbupgrade.workflows;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ClusterActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The words the steps and gates use: true to the backup mode, the cluster id's source, leftovers.
 */
class GateTextsTest {

  static UpgradeRequest request(String backupMode) {
    Map<String, Object> json = new HashMap<>();
    json.put("namespace", "opschain");
    json.put("release", "opschain");
    json.put("chart", "opschain/opschain");
    json.put("currentVersion", "2025-10-01");
    json.put("targetVersion", "2026-02-10");
    json.put("valuesFile", "/etc/opschain/values.yaml");
    json.put("backupMode", backupMode);
    return UpgradeRequests.validate(
        UpgradeRequest.fromJson(json), UpgradeRequests.workflowId("opschain"));
  }

  static RunbookStep.Facts facts(UpgradeRequest req) {
    return new RunbookStep.Facts(req, "host-a", "/backup/run", null, null);
  }

  @Test
  void theBackupStepsSayWhatEachModeDid() {
    UpgradeRequest stream = request("stream");
    UpgradeRequest pod = request("pod");
    var one = List.of(new BackupFile("base.tar.zst", 10L, "a", 10L, "a"));
    var two =
        List.of(
            new BackupFile("base.tar.gz", 10L, "a", 10L, "a"),
            new BackupFile("pg_wal.tar.gz", 10L, "b", 10L, "b"));

    assertThat(
            RunbookStep.tookBackup(
                stream, new BackupActivities.PodBackup("db-1", "/d", one, false)))
        .isEqualTo("streamed 1 archive from pod db-1 to the host");
    assertThat(
            RunbookStep.tookBackup(pod, new BackupActivities.PodBackup("db-1", "/d", two, false)))
        .isEqualTo("took 2 files in pod db-1:/d");
    assertThat(
            RunbookStep.copiedBackup(stream, new BackupEvidence("h", "/b", one, List.of(), true)))
        .isEqualTo("1 file on the host already (streamed), in /b");
    assertThat(RunbookStep.copiedBackup(pod, new BackupEvidence("h", "/b", two, List.of(), true)))
        .isEqualTo("2 files copied to /b");
    assertThat(RunbookStep.COPY_BACKUP_OUT.planned(facts(stream)))
        .startsWith("nothing to copy: the backup was streamed to host-a:/backup/run");
    assertThat(RunbookStep.COPY_BACKUP_OUT.planned(facts(pod)))
        .isEqualTo("copy the archives and manifest to host-a:/backup/run, verified");
  }

  @Test
  void startNamesWhatTheClusterIdIsTheHashOf() {
    UpgradeRequest req = request("stream");
    var preflight = new ClusterActivities.PreflightResult(true, false, 1L, List.of("ok"));
    var release = new HelmActivities.ReleaseInfo(true, "2025-10-01", 7, "deployed", "Install");
    var none = new Leftovers(List.of(), null, null);

    var evidence =
        GateEvidences.start(
            facts(req), preflight, release, "abc123", "SHA-256 of the API server URL", none);

    assertThat(evidence.details())
        .contains(
            "Kubernetes cluster abc123 (SHA-256 of the API server URL): every step runs on this"
                + " cluster's workers only");
  }

  @Test
  void leftoversOfAnEarlierRunAreNamedWithWhatApprovingAndRejectingDo() {
    UpgradeRequest req = request("stream");
    var release =
        new HelmActivities.ReleaseInfo(
            true,
            "2025-10-01",
            2,
            "deployed",
            "opschain-db-upgrade opschain-db-upgrade-opschain/run-1/stopOpsChain");
    var preflight =
        new ClusterActivities.PreflightResult(
            true,
            false,
            1L,
            List.of(),
            null,
            null,
            Map.of("opschain-db", 1, "opschain-api", 0, "opschain-api-worker", 0));

    Leftovers found =
        Leftovers.find(req, release, preflight, "opschain-db-upgrade-opschain", "run-2");
    Leftovers own =
        Leftovers.find(req, release, preflight, "opschain-db-upgrade-opschain", "run-1");

    assertThat(found.lines())
        .containsExactly(
            "left by an earlier run: release opschain revision 2 (deployed) was deployed by run"
                + " run-1's step stopOpsChain, with stopped=true: OpsChain was stopped and not put"
                + " back",
            "OpsChain is already stopped: opschain-api, opschain-api-worker at 0 replicas");
    assertThat(found.rejecting(req)).startsWith("OpsChain stays stopped");
    assertThat(found.pastPointOfNoReturn(req, release)).isFalse();
    assertThat(own.earlierRun()).as("this run's own marker is no leftover").isNull();
  }

  @Test
  void anEarlierRunThatPutOpsChainBackLeftNothing() {
    UpgradeRequest req = request("stream");
    var release =
        new HelmActivities.ReleaseInfo(
            true,
            "2025-10-01",
            3,
            "deployed",
            "opschain-db-upgrade opschain-db-upgrade-opschain/run-1/putBackInService");
    var preflight =
        new ClusterActivities.PreflightResult(
            true, false, 1L, List.of(), null, null, Map.of("opschain-api", 1));

    Leftovers found =
        Leftovers.find(req, release, preflight, "opschain-db-upgrade-opschain", "run-2");

    assertThat(found.any()).isFalse();
    assertThat(found.stopped()).isFalse();
  }
}
