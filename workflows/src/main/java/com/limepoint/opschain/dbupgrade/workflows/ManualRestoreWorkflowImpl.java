package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.RunbookStep.*;

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
import java.util.function.Function;
import java.util.function.Supplier;

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
  private RunbookStep.Facts facts;

  @Override
  public ManualRestoreResult restore(ManualRestoreRequest request) {
    req = request.request();
    hostDir = request.hostDir();
    facts = new RunbookStep.Facts(req, null, hostDir, null, null);
    acts =
        new UpgradeActivities(
            request.hostTaskQueue(),
            request.clusterTaskQueue(),
            UpgradeRequests.parseDuration(req.importTimeout()));

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
        step(
            CHECK_BACKUP,
            () ->
                acts.backup("re-verify backup in " + hostDir)
                    .verifyBackup(new BackupActivities.VerifyRequest(hostDir, approved.files())),
            r -> r.verified() ? "verified" : "NOT verified");
    if (!now.passesVerification()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the backup in " + hostDir + " no longer verifies; nothing was deleted",
          FailureTypes.BACKUP_INVALID);
    }
    step(
        CHECK_OPERATOR,
        () -> acts.cnpg("check the CNPG operator").checkOperator(cluster()),
        ChangeResult::summary);
  }

  private void deleteCluster() {
    step(
        DELETE_CLUSTER,
        () ->
            acts.cnpg("delete cluster " + req.namespace() + "/" + req.clusterName())
                .deleteCluster(cluster()),
        ChangeResult::summary);
  }

  /** Without recoveryMode, stopped, with the database hibernated (by Helm or by annotation). */
  private void redeployStoppedAndHibernated() {
    restoreValues =
        step(
                PREPARE_RESTORE_VALUES,
                () ->
                    acts.values("restore values from " + req.valuesFile())
                        .prepareValues(
                            new ValuesActivities.ValuesRequest(
                                req.valuesFile(), hostDir, ValuesActivities.Kind.RESTORE, false)),
                ValuesActivities.ValuesResult::path)
            .path();
    if (byAnnotation()) {
      helm(REDEPLOY_STOPPED, Map.of("stopped", "true"));
      hibernation(true);
    } else {
      helm(REDEPLOY_STOPPED, Map.of("stopped", "true", "stopDatabase", "true"));
    }
  }

  private void awaitDbPodGone() {
    step(
        AWAIT_DB_POD_GONE,
        () ->
            acts.cnpgWait(
                    "wait for the pods of " + req.namespace() + "/" + req.clusterName() + " to go")
                .awaitDbPodGone(cluster()),
        r -> r.summary());
  }

  private void startRestorePod() {
    step(
        CREATE_RESTORE_POD,
        () ->
            acts.restorePod("start " + RESTORE_POD + " in " + req.namespace())
                .createRestorePod(restorePod()),
        ChangeResult::summary);
  }

  private void uploadBackup(BackupEvidence backup) {
    step(
        UPLOAD_BACKUP,
        () ->
            acts.backup("upload backup into " + req.namespace() + "/" + RESTORE_POD)
                .uploadBackup(
                    new BackupActivities.UploadRequest(
                        req.namespace(), RESTORE_POD, hostDir, req.podBackupDir(), backup.files())),
        ChangeResult::summary);
  }

  private void saveConfFiles() {
    step(
        SAVE_CONF_FILES,
        () -> acts.restorePod("save conf files in " + RESTORE_POD).saveConfFiles(pgdata()),
        ChangeResult::summary);
  }

  private void restorePgdata() {
    step(
        RESTORE_PGDATA,
        () -> acts.restorePod("restore pgdata in " + RESTORE_POD).restorePgdata(pgdata()),
        ChangeResult::summary);
  }

  private String checkControlData() {
    return step(
            CHECK_CONTROL_DATA,
            () -> acts.restorePod("pg_controldata in " + RESTORE_POD).checkControlData(pgdata()),
            r -> "Database cluster state: " + r.clusterState())
        .clusterState();
  }

  private void deleteRestorePod() {
    step(
        DELETE_RESTORE_POD,
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
      helm(REDEPLOY_WITHOUT_STOP_DATABASE, Map.of("stopped", "true"));
    }
    step(
        AWAIT_CLUSTER_HEALTHY,
        () ->
            acts.cnpgWait("wait for " + req.namespace() + "/" + req.clusterName() + " healthy")
                .awaitClusterHealthy(
                    new CnpgActivities.ImportRequest(
                        req.namespace(), req.clusterName(), acts.importSeconds())),
        r -> r.phase() + ", " + r.readyInstances() + "/" + r.instances() + " ready");
  }

  /** Redeploy without stopped or stopDatabase. */
  private void redeployRunning() {
    helm(REDEPLOY_RUNNING, Map.of());
  }

  private void hibernation(boolean on) {
    step(
        on ? HIBERNATE_ON : HIBERNATE_OFF,
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

  /** One Helm deploy of the target version with the restore values and {@code set}. */
  private void helm(RunbookStep s, Map<String, String> set) {
    var request =
        UpgradeActivities.helmUpgrade(req, s, req.targetVersion(), List.of(restoreValues), set);
    step(s, () -> acts.helm(request.summary()).upgrade(request), HelmActivities.HelmResult::line);
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

  private <T> T step(RunbookStep s, Supplier<T> body, Function<T, String> summary) {
    return steps.run(s.id(), s.describe(facts), body, summary);
  }

  @Override
  public List<StepStatus> steps() {
    return steps.snapshot();
  }
}
