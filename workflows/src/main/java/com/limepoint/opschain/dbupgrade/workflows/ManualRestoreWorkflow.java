package com.limepoint.opschain.dbupgrade.workflows;

import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.util.List;

/**
 * The runbook's "Manual database migration", run as a child of {@link DbUpgradeWorkflow} once the
 * MANUAL_RESTORE gate is approved. Its id is {@code <parent id>-manual-restore}.
 */
@WorkflowInterface
public interface ManualRestoreWorkflow {

  @WorkflowMethod
  ManualRestoreResult restore(ManualRestoreRequest request);

  @QueryMethod
  List<StepStatus> steps();

  /**
   * @param request the parent's validated request
   * @param hostTaskQueue the queue of the host that holds the backup
   * @param hostDir where the backup is on that host
   * @param backup the evidence the BACKUP_VERIFIED gate approved; checked again before any delete
   * @param clusterTaskQueue the queue of the workers of the parent's cluster, for the Kubernetes
   *     activities; null: the shared queue (requests from before it existed)
   */
  record ManualRestoreRequest(
      UpgradeRequest request,
      String hostTaskQueue,
      String hostDir,
      BackupEvidence backup,
      String clusterTaskQueue) {

    public ManualRestoreRequest(
        UpgradeRequest request, String hostTaskQueue, String hostDir, BackupEvidence backup) {
      this(request, hostTaskQueue, hostDir, backup, null);
    }
  }

  record ManualRestoreResult(List<StepStatus> steps, String controlData) {}
}
