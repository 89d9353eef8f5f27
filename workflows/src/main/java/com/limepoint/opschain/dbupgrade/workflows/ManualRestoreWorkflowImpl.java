package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities;
import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.CnpgActivities;
import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.failure.ApplicationFailure;
import java.util.List;
import java.util.Map;

/**
 * {@link ManualRestoreWorkflow}: the runbook's "Manual database migration", step by step. The
 * backup is checked again before the cluster is deleted, and pgdata is only emptied after its conf
 * files are saved on the volume.
 */
public class ManualRestoreWorkflowImpl implements ManualRestoreWorkflow {

  /** The runbook's pod name: {@code kubectl run restore-from-backup ...}. */
  static final String RESTORE_POD = "restore-from-backup";

  private final Steps steps = new Steps();
  private UpgradeRequest req;
  private UpgradeActivities acts;
  private String hostDir;
  private String restoreValues;

  @Override
  public ManualRestoreResult restore(ManualRestoreRequest request) {
    req = request.request();
    hostDir = request.hostDir();
    acts =
        new UpgradeActivities(
            request.hostTaskQueue(), UpgradeRequests.parseDuration(req.importTimeout()));

    checkRequirements(request.backup());
    deleteCluster();
    redeployStoppedAndHibernated();
    awaitDbPodGone();
    startRestorePod();
    uploadBackup(request.backup());
    saveConfFiles();
    restorePgdata();
    String controlData = checkControlData();
    deleteRestorePod();
    resumeCluster();
    redeployRunning();
    return new ManualRestoreResult(steps.snapshot(), controlData);
  }

  /** Both archives on the host with their checksums unchanged, and the CNPG operator up. */
  private void checkRequirements(BackupEvidence approved) {
    BackupEvidence now =
        steps.run(
            "checkBackup",
            "base.tar.gz and pg_wal.tar.gz on the host, checksums unchanged",
            () ->
                acts.backup("re-verify backup in " + hostDir)
                    .verifyBackup(new BackupActivities.VerifyRequest(hostDir, approved.files())),
            r -> r.verified() ? "verified" : "NOT verified");
    if (!now.passesVerification()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the backup in " + hostDir + " no longer verifies; nothing was deleted",
          FailureTypes.BACKUP_INVALID);
    }
    steps.run(
        "checkOperator",
        "the CNPG operator is installed and running",
        () -> acts.cnpg("check the CNPG operator").checkOperator(cluster()),
        ChangeResult::summary);
  }

  private void deleteCluster() {
    steps.run(
        "deleteCluster",
        "kubectl delete cluster " + req.clusterName(),
        () ->
            acts.cnpg("delete cluster " + req.namespace() + "/" + req.clusterName())
                .deleteCluster(cluster()),
        ChangeResult::summary);
  }

  /** Without recoveryMode, stopped, with the database hibernated (by Helm or by annotation). */
  private void redeployStoppedAndHibernated() {
    restoreValues =
        steps
            .run(
                "prepareRestoreValues",
                "the migration values without db.recoveryMode",
                () ->
                    acts.values("restore values from " + req.valuesFile())
                        .prepareValues(
                            new ValuesActivities.ValuesRequest(
                                req.valuesFile(), hostDir, ValuesActivities.Kind.RESTORE, false)),
                ValuesActivities.ValuesResult::path)
            .path();
    if (byAnnotation()) {
      helm("redeployStopped", Map.of("stopped", "true"));
      hibernation(true);
    } else {
      helm("redeployStopped", Map.of("stopped", "true", "stopDatabase", "true"));
    }
  }

  private void awaitDbPodGone() {
    steps.run(
        "awaitDbPodGone",
        "wait until the database pod is gone",
        () ->
            acts.cnpgWait(
                    "wait for the pods of " + req.namespace() + "/" + req.clusterName() + " to go")
                .awaitDbPodGone(cluster()),
        r -> r.summary());
  }

  private void startRestorePod() {
    steps.run(
        "createRestorePod",
        "kubectl run " + RESTORE_POD + " on PVC " + req.pvcName(),
        () ->
            acts.restorePod("start " + RESTORE_POD + " in " + req.namespace())
                .createRestorePod(restorePod()),
        ChangeResult::summary);
  }

  private void uploadBackup(BackupEvidence backup) {
    steps.run(
        "uploadBackup",
        "copy the archives into " + RESTORE_POD + ":" + req.podBackupDir() + " and check SHA-256",
        () ->
            acts.backup("upload backup into " + req.namespace() + "/" + RESTORE_POD)
                .uploadBackup(
                    new BackupActivities.UploadRequest(
                        req.namespace(), RESTORE_POD, hostDir, req.podBackupDir(), backup.files())),
        ChangeResult::summary);
  }

  private void saveConfFiles() {
    steps.run(
        "saveConfFiles",
        "save pg_hba.conf, pg_ident.conf, postgresql.conf, postgresql.auto.conf (never overwritten)",
        () -> acts.restorePod("save conf files in " + RESTORE_POD).saveConfFiles(pgdata()),
        ChangeResult::summary);
  }

  private void restorePgdata() {
    steps.run(
        "restorePgdata",
        "empty pgdata, extract base and WAL, chown " + req.dataOwner() + ", restore conf files",
        () -> acts.restorePod("restore pgdata in " + RESTORE_POD).restorePgdata(pgdata()),
        ChangeResult::summary);
  }

  private String checkControlData() {
    return steps
        .run(
            "checkControlData",
            "pg_controldata must show 'in production'",
            () -> acts.restorePod("pg_controldata in " + RESTORE_POD).checkControlData(pgdata()),
            r -> "Database cluster state: " + r.clusterState())
        .clusterState();
  }

  private void deleteRestorePod() {
    steps.run(
        "deleteRestorePod",
        "delete " + RESTORE_POD,
        () ->
            acts.restorePod("delete " + RESTORE_POD + " in " + req.namespace())
                .deleteRestorePod(restorePod()),
        ChangeResult::summary);
  }

  /** Hibernation off, then wait until CNPG is healthy. */
  private void resumeCluster() {
    if (byAnnotation()) {
      hibernation(false);
    } else {
      helm("redeployWithoutStopDatabase", Map.of("stopped", "true"));
    }
    steps.run(
        "awaitClusterHealthy",
        "wait until CNPG cluster " + req.clusterName() + " is healthy",
        () ->
            acts.cnpgWait("wait for " + req.namespace() + "/" + req.clusterName() + " healthy")
                .awaitClusterHealthy(
                    new CnpgActivities.ImportRequest(
                        req.namespace(), req.clusterName(), acts.importSeconds())),
        r -> r.phase() + ", " + r.readyInstances() + "/" + r.instances() + " ready");
  }

  /** Redeploy without stopped or stopDatabase. */
  private void redeployRunning() {
    helm("redeployRunning", Map.of());
  }

  private void hibernation(boolean on) {
    steps.run(
        on ? "hibernateOn" : "hibernateOff",
        "kubectl annotate cluster "
            + req.clusterName()
            + " cnpg.io/hibernation="
            + (on ? "on" : "off"),
        () ->
            acts.cnpg(
                    "hibernation "
                        + (on ? "on" : "off")
                        + " for "
                        + req.namespace()
                        + "/"
                        + req.clusterName())
                .setHibernation(
                    new CnpgActivities.HibernationRequest(
                        req.namespace(), req.clusterName(), on, false)),
        ChangeResult::summary);
  }

  private void helm(String step, Map<String, String> set) {
    steps.run(
        step,
        "helm upgrade " + req.targetVersion() + " with the restore values " + set,
        () ->
            acts.helm("helm upgrade " + req.namespace() + "/" + req.release() + " (" + step + ")")
                .upgrade(
                    new HelmActivities.UpgradeRequest(
                        req.namespace(),
                        req.release(),
                        req.chart(),
                        req.targetVersion(),
                        List.of(restoreValues),
                        set,
                        step,
                        UpgradeActivities.HELM_DEPLOY.minusMinutes(5).toSeconds(),
                        false)),
        r -> "revision " + r.revision() + " " + r.status());
  }

  private boolean byAnnotation() {
    return UpgradeRequests.HIBERNATE_BY_ANNOTATION.equals(req.hibernateBy());
  }

  private CnpgActivities.ClusterRequest cluster() {
    return new CnpgActivities.ClusterRequest(req.namespace(), req.clusterName(), false);
  }

  private RestorePodActivities.RestorePodRequest restorePod() {
    return new RestorePodActivities.RestorePodRequest(
        req.namespace(), RESTORE_POD, req.restoreImage(), req.pvcName(), req.pgdata(), false);
  }

  private RestorePodActivities.PgdataRequest pgdata() {
    return new RestorePodActivities.PgdataRequest(
        req.namespace(), RESTORE_POD, req.pgdata(), req.podBackupDir(), req.dataOwner());
  }

  @Override
  public List<StepStatus> steps() {
    return steps.snapshot();
  }
}
