package com.limepoint.opschain.dbupgrade.worker;

import com.limepoint.opschain.dbupgrade.helm.HelmSlots;
import com.limepoint.opschain.dbupgrade.model.ApprovalPolicy;
import com.limepoint.opschain.dbupgrade.workflows.DbUpgradeWorkflow;
import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;

/**
 * The worker's settings, from {@code application.yml} and overridable by environment variables
 * ({@code OPSCHAIN_TEMPORAL_TARGET}, {@code OPSCHAIN_KUBECONFIG}, ...). The defaults are the
 * runbook's, and a local Temporal on {@code localhost:7233}.
 *
 * @param host this worker's host name; its file-affine activities poll {@code
 *     <taskQueue>-host-<host>-<cluster>}
 * @param tlsCert mTLS client certificate (PEM) for Temporal Cloud, with {@code tlsKey} (PKCS#8)
 * @param apiKey Temporal Cloud API key; prefer the environment variable to the file
 * @param shutdownGrace how long a stopping worker waits for running activities
 * @param encryptionKeyFile AES-256 key files (base64), comma-separated: the first encrypts, all
 *     decrypt (rotation); unset means payloads are plain JSON
 * @param searchAttributes the Temporal namespace has the Keyword search attributes {@code
 *     OpsChainNamespace} and {@code UpgradePhase} registered (see the README); workflows then keep
 *     them current. The dev mode registers them and sets this.
 * @param metricsInterval how often the Temporal SDK's metrics are reported to {@code /prometheus}
 * @param anyoneMayApprove with no {@code approvers}, anyone who can reach Temporal may approve
 *     (said explicitly; otherwise such a worker refuses to start upgrades)
 * @param skipGatesAllowed honour a request's {@code skipGates}: the dev mode sets it, nothing else
 * @param secondApproverGates gates that need a second, different approver
 * @param requireEncryption with {@code encryptionKeyFile}, refuse plaintext payloads (an approval
 *     signalled without the key, say) instead of passing them through
 * @param hostStart how long an activity for this host (the backup's, Helm's) may wait for this
 *     worker to take it from the host's queue (its schedule-to-start) before the upgrade says the
 *     host is gone: before the point of no return the cluster's workers put OpsChain back, after it
 *     the run stops at RETRY_STEP naming the host
 * @param helmProcesses how many Helm processes may run at once; unset or 0: sized from the worker's
 *     memory limit ({@link HelmSlots#defaultFor}, 2 at 1 GiB)
 * @param activitySlots how many activities each of the worker's task queues runs at once; more wait
 *     in Temporal's queue
 * @param helm the helm binary the worker runs (Helm 3, v3.21.4 in the image, at /usr/local/bin): a
 *     path, or a name looked up on the PATH
 * @param helmHome a writable directory for Helm's cache, config and data ({@code HELM_CACHE_HOME}
 *     and the others); unset: Helm's defaults under {@code $HOME}
 * @param helmRepositoryConfig the {@code repositories.yaml} naming the chart repository of a chart
 *     reference such as {@code opschain/opschain} (mounted from a Secret when it holds
 *     credentials); the worker runs {@code helm repo update <repo>} before each chart it takes from
 *     it. Unset: the one under {@code helmHome}, or Helm's default
 */
@ConfigurationProperties("opschain")
public record WorkerConfig(
    @Bindable(defaultValue = "localhost:7233") String temporalTarget,
    @Bindable(defaultValue = "default") String temporalNamespace,
    @Bindable(defaultValue = DbUpgradeWorkflow.TASK_QUEUE) String taskQueue,
    @Nullable String host,
    @Nullable String tlsCert,
    @Nullable String tlsKey,
    @Nullable String apiKey,
    @Nullable String kubeconfig,
    @Nullable String kubeContext,
    @Bindable(defaultValue = "/limepoint/backup") String hostBackupDir,
    @Nullable List<String> approvers,
    @Nullable String encryptionKeyFile,
    @Bindable(defaultValue = "30s") Duration shutdownGrace,
    @Bindable(defaultValue = "10s") Duration metricsInterval,
    @Bindable(defaultValue = "false") boolean searchAttributes,
    @Bindable(defaultValue = "false") boolean anyoneMayApprove,
    @Bindable(defaultValue = "false") boolean skipGatesAllowed,
    @Nullable List<String> secondApproverGates,
    @Bindable(defaultValue = "false") boolean requireEncryption,
    @Bindable(defaultValue = "10m") Duration hostStart,
    @Nullable Integer helmProcesses,
    @Bindable(defaultValue = "16") int activitySlots,
    @Bindable(defaultValue = "helm") String helm,
    @Nullable String helmHome,
    @Nullable String helmRepositoryConfig) {

  /** The Helm process bound: the setting, or the default for this worker's memory limit. */
  public int helmProcessLimit() {
    return helmProcesses == null || helmProcesses <= 0
        ? HelmSlots.defaultFor(HelmSlots.memoryLimit())
        : helmProcesses;
  }

  /**
   * The approval policy every upgrade this worker claims follows: {@code approvers}, whether anyone
   * may approve when none are set, whether {@code skipGates} is honoured (the dev mode only), and
   * the gates that need a second approver (default MANUAL_RESTORE and FINALIZE; {@code none} for no
   * such gate).
   */
  public ApprovalPolicy approvalPolicy() {
    List<String> second =
        secondApproverGates == null
            ? ApprovalPolicy.DEFAULT_SECOND_APPROVER_GATES
            : secondApproverGates.stream()
                .map(String::strip)
                .filter(g -> !g.isEmpty() && !g.equalsIgnoreCase("none"))
                .map(String::toUpperCase)
                .toList();
    return new ApprovalPolicy(approvers, anyoneMayApprove, skipGatesAllowed, second);
  }

  public String hostName() {
    if (host != null && !host.isBlank()) {
      return host;
    }
    try {
      return InetAddress.getLocalHost().getHostName().toLowerCase().replaceAll("[^a-z0-9-]", "-");
    } catch (UnknownHostException e) {
      return "localhost";
    }
  }

  /**
   * The task queue only this host's worker polls (backup files, values, Helm), for the cluster it
   * talks to: {@code <taskQueue>-host-<host>-<cluster>}.
   */
  public String hostQueue(String cluster) {
    return taskQueue + "-host-" + hostName() + "-" + cluster;
  }

  /** The task queue every worker of one cluster polls for the Kubernetes activities. */
  public String clusterQueue(String cluster) {
    return taskQueue + "-cluster-" + cluster;
  }
}
