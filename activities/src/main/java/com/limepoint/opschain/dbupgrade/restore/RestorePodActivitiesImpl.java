package com.limepoint.opschain.dbupgrade.restore;

import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.kube.DbPods;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@link RestorePodActivities}: the runbook's manual migration inside the {@code
 * restore-from-backup} pod, as argv lists through exec.
 */
public class RestorePodActivitiesImpl implements RestorePodActivities {

  /** The four files the runbook saves before wiping pgdata and restores after. */
  static final List<String> CONF_FILES =
      List.of("pg_hba.conf", "pg_ident.conf", "postgresql.conf", "postgresql.auto.conf");

  /** Beside pgdata on the PVC, so the saved files survive the pod and the wipe. */
  static final String SAVE_DIR_NAME = "opschain-db-upgrade-saved-conf";

  private static final Duration SHORT = Duration.ofMinutes(2);
  private static final Duration LONG = Duration.ofHours(6);
  private static final Duration POD_START = Duration.ofMinutes(10);

  private final KubernetesClient client;
  private final PodExec exec;

  public RestorePodActivitiesImpl(KubernetesClient client) {
    this.client = client;
    this.exec = new PodExec(client);
  }

  @Override
  public ChangeResult createRestorePod(RestorePodRequest r) {
    Pod existing = client.pods().inNamespace(r.namespace()).withName(r.podName()).get();
    boolean created = false;
    if (existing == null) {
      if (r.dryRun()) {
        return ChangeResult.unchanged("would create pod " + r.podName() + " on PVC " + r.pvcName());
      }
      client.pods().inNamespace(r.namespace()).resource(restorePod(r)).create();
      created = true;
    } else if (existing.getMetadata().getDeletionTimestamp() != null) {
      throw ApplicationFailure.newFailure(
          "pod " + r.podName() + " is being deleted; waiting to create it again", "PodNotReady");
    }
    client
        .pods()
        .inNamespace(r.namespace())
        .withName(r.podName())
        .waitUntilCondition(
            p -> p != null && DbPods.isReady(p), POD_START.toSeconds(), TimeUnit.SECONDS);
    return created
        ? ChangeResult.changed(
            "created pod " + r.podName() + " (" + r.image() + ") on PVC " + r.pvcName())
        : ChangeResult.unchanged("pod " + r.podName() + " already runs; reusing it");
  }

  /** As the runbook's {@code kubectl run --overrides}: root, the PVC at pgdata's parent, no TTY. */
  static Pod restorePod(RestorePodRequest r) {
    String mount = parent(r.pgdata());
    return new PodBuilder()
        .withNewMetadata()
        .withName(r.podName())
        .withNamespace(r.namespace())
        .withLabels(Map.of("app.kubernetes.io/managed-by", "opschain-db-upgrade"))
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        .withNewSecurityContext()
        .withRunAsUser(0L)
        .withRunAsGroup(0L)
        .endSecurityContext()
        .addNewContainer()
        .withName("restore")
        .withImage(r.image())
        .withCommand("sleep", "86400")
        .addNewVolumeMount()
        .withName("pgdata")
        .withMountPath(mount)
        .endVolumeMount()
        .endContainer()
        .addNewVolume()
        .withName("pgdata")
        .withNewPersistentVolumeClaim()
        .withClaimName(r.pvcName())
        .endPersistentVolumeClaim()
        .endVolume()
        .endSpec()
        .build();
  }

  @Override
  public ChangeResult saveConfFiles(PgdataRequest r) {
    String saveDir = saveDir(r.pgdata());
    List<String> saved = listing(r, saveDir);
    if (saved.containsAll(CONF_FILES)) {
      return ChangeResult.unchanged(
          "all four conf files already saved in " + saveDir + "; not overwritten");
    }
    exec.check(r.namespace(), r.podName(), PodCommands.mkdirs(saveDir), SHORT);
    List<String> inPgdata = listing(r, r.pgdata());
    List<String> copied = new ArrayList<>();
    for (String f : CONF_FILES) {
      if (saved.contains(f)) {
        continue;
      }
      if (!inPgdata.contains(f)) {
        throw ApplicationFailure.newNonRetryableFailure(
            f
                + " is neither saved in "
                + saveDir
                + " nor present in "
                + r.pgdata()
                + "; refusing to go on",
            FailureTypes.PREFLIGHT_FAILED);
      }
      exec.check(
          r.namespace(),
          r.podName(),
          PodCommands.copyNoClobber(r.pgdata() + "/" + f, saveDir + "/" + f),
          SHORT);
      copied.add(f);
    }
    return ChangeResult.changed("saved " + String.join(", ", copied) + " to " + saveDir);
  }

  @Override
  public ChangeResult restorePgdata(PgdataRequest r) {
    String ns = r.namespace();
    String pod = r.podName();
    String saveDir = saveDir(r.pgdata());
    String marker = ".restored-" + Heartbeats.workflowId();
    List<String> saved = listing(r, saveDir);
    if (saved.contains(marker)) {
      return ChangeResult.unchanged(
          r.pgdata() + " was already restored by this workflow; not touched again");
    }
    if (!saved.containsAll(CONF_FILES)) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the conf files are not saved in " + saveDir + "; refusing to empty " + r.pgdata(),
          FailureTypes.PREFLIGHT_FAILED);
    }
    List<String> uploaded = listing(r, r.uploadDir());
    for (String a : List.of("base.tar.gz", "pg_wal.tar.gz")) {
      if (!uploaded.contains(a)) {
        throw ApplicationFailure.newNonRetryableFailure(
            a + " is not in " + pod + ":" + r.uploadDir() + "; refusing to empty " + r.pgdata(),
            FailureTypes.BACKUP_INVALID);
      }
    }
    step(r, "empty pgdata", PodCommands.emptyDir(r.pgdata()));
    step(r, "extract base", PodCommands.extract(r.uploadDir() + "/base.tar.gz", r.pgdata()));
    step(r, "create pg_wal", PodCommands.mkdirs(r.pgdata() + "/pg_wal"));
    step(
        r,
        "extract WAL",
        PodCommands.extract(r.uploadDir() + "/pg_wal.tar.gz", r.pgdata() + "/pg_wal"));
    for (String f : CONF_FILES) {
      step(r, "restore " + f, PodCommands.copy(saveDir + "/" + f, r.pgdata() + "/" + f));
    }
    // chown last, so the restored conf files are the data owner's too.
    step(r, "chown", PodCommands.chownRecursive(r.dataOwner(), parent(r.pgdata())));
    exec.check(ns, pod, PodCommands.touch(saveDir + "/" + marker), SHORT);
    return ChangeResult.changed(
        "emptied "
            + r.pgdata()
            + ", extracted base and WAL, restored the conf files, chown "
            + r.dataOwner());
  }

  @Override
  public ControlDataResult checkControlData(PgdataRequest r) {
    String out = exec.check(r.namespace(), r.podName(), PodCommands.controlData(r.pgdata()), SHORT);
    String state =
        out.lines()
            .filter(l -> l.startsWith("Database cluster state:"))
            .map(l -> l.substring("Database cluster state:".length()).strip())
            .findFirst()
            .orElse("unknown");
    if (!state.equals("in production")) {
      throw ApplicationFailure.newNonRetryableFailure(
          "pg_controldata "
              + r.pgdata()
              + " shows 'Database cluster state: "
              + state
              + "', not 'in production'. Output:\n"
              + out,
          FailureTypes.CONTROL_DATA_MISMATCH);
    }
    return new ControlDataResult(state, out);
  }

  @Override
  public ChangeResult deleteRestorePod(RestorePodRequest r) {
    if (client.pods().inNamespace(r.namespace()).withName(r.podName()).get() == null) {
      return ChangeResult.unchanged("pod " + r.podName() + " is already gone");
    }
    if (r.dryRun()) {
      return ChangeResult.unchanged("would delete pod " + r.podName());
    }
    client.pods().inNamespace(r.namespace()).withName(r.podName()).delete();
    return ChangeResult.changed("deleted pod " + r.podName());
  }

  private void step(PgdataRequest r, String what, List<String> argv) {
    Heartbeats.beat(new Checkpoint("restorePgdata", null, 0, 0, null, what, List.of()));
    exec.check(r.namespace(), r.podName(), argv, LONG);
  }

  private List<String> listing(PgdataRequest r, String dir) {
    PodExec.Result res = exec.run(r.namespace(), r.podName(), PodCommands.listDir(dir), SHORT);
    return res.ok() ? res.stdout().lines().toList() : List.of();
  }

  static String saveDir(String pgdata) {
    return parent(pgdata) + "/" + SAVE_DIR_NAME;
  }

  static String parent(String path) {
    int i = path.lastIndexOf('/');
    return i <= 0 ? "/" : path.substring(0, i);
  }
}
