package com.limepoint.opschain.dbupgrade.restore;

import com.limepoint.opschain.dbupgrade.activities.ChangeResult;
import com.limepoint.opschain.dbupgrade.activities.RestorePodActivities;
import com.limepoint.opschain.dbupgrade.kube.DbPods;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats;
import com.limepoint.opschain.dbupgrade.kube.Heartbeats.Checkpoint;
import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import com.limepoint.opschain.dbupgrade.kube.PodFence;
import com.limepoint.opschain.dbupgrade.kube.RunDir;
import com.limepoint.opschain.dbupgrade.kube.Waits;
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

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(RestorePodActivitiesImpl.class);

  private final KubernetesClient client;
  private final PodExec exec;
  private final PodFence fence;
  private final RestoreTargets targets;

  public RestorePodActivitiesImpl(KubernetesClient client) {
    this.client = client;
    this.exec = new PodExec(client);
    this.fence = new PodFence(exec);
    this.targets = new RestoreTargets(client);
  }

  @Override
  public RestoreTargetCheck checkRestoreTarget(RestoreTargetRequest r) {
    return targets.check(r);
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
    } else if (!ours(existing)) {
      throw notOurs(
          r.namespace(), r.podName(), "Delete it by hand once nobody uses it, then retry");
    }
    awaitReady(r);
    return created
        ? ChangeResult.changed(
            "created pod " + r.podName() + " (" + r.image() + ") on PVC " + r.pvcName())
        : ChangeResult.unchanged("pod " + r.podName() + " already runs; reusing it");
  }

  /** Waits for the pod to be ready, heartbeating between slices of the wait. */
  private void awaitReady(RestorePodRequest r) {
    long started = System.nanoTime();
    while (true) {
      try {
        client
            .pods()
            .inNamespace(r.namespace())
            .withName(r.podName())
            .waitUntilCondition(
                p -> p != null && DbPods.isReady(p),
                Heartbeats.SLICE.toSeconds(),
                TimeUnit.SECONDS);
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientTimeoutException e) {
        if (System.nanoTime() - started > POD_START.toNanos()) {
          throw ApplicationFailure.newFailure(
              "pod " + r.podName() + " is not ready after " + POD_START, "PodNotReady");
        }
        Heartbeats.alive("waiting for pod " + r.podName() + " to be ready", started);
      }
    }
  }

  /** As the runbook's {@code kubectl run --overrides}: root, the PVC at pgdata's parent, no TTY. */
  static Pod restorePod(RestorePodRequest r) {
    return scratchPod(r.namespace(), r.podName(), "restore", r.image(), List.of("sleep", "86400"))
        .editSpec()
        .withNewSecurityContext()
        .withRunAsUser(0L)
        .withRunAsGroup(0L)
        .endSecurityContext()
        .editFirstContainer()
        .addNewVolumeMount()
        .withName("pgdata")
        .withMountPath(parent(r.pgdata()))
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

  /**
   * The start of every pod this run creates (the rehearsal, the restore pod, the image check): the
   * run's marker annotation (only a pod carrying it is ever deleted or reused), the managed-by and
   * component labels, restart policy Never, no service account token, and one container named
   * {@code component} running {@code command}. Each caller adds what its pod needs.
   */
  public static PodBuilder scratchPod(
      String ns, String name, String component, String image, List<String> command) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(ns)
        .withLabels(
            Map.of(
                "app.kubernetes.io/managed-by",
                "opschain-db-upgrade",
                "app.kubernetes.io/component",
                component))
        .withAnnotations(Map.of(RUN_ANNOTATION, runMarker()))
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        // Its PID 1 is `sleep`, which has no SIGTERM handler, and PID 1 ignores a signal it does
        // not handle: the kubelet stops it only by SIGKILL when the grace period ends (30 s by
        // default), while a step waits for the pod to be gone. Nothing in it needs a clean stop:
        // its commands have ended (fenced), and a rehearsal's server dies with its emptyDir.
        .withTerminationGracePeriodSeconds(5L)
        .withAutomountServiceAccountToken(false)
        .addNewContainer()
        .withName(component)
        .withImage(image)
        .withCommand(command)
        .endContainer()
        .endSpec();
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
    String run = Heartbeats.workflowId() + "." + Heartbeats.runId();
    String done = ".restored-" + run;
    List<String> saved = listing(r, saveDir);
    if (saved.contains(done)) {
      return ChangeResult.unchanged(
          r.pgdata() + " was already restored by this run; not touched again");
    }
    if (!saved.containsAll(CONF_FILES)) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the conf files are not saved in " + saveDir + "; refusing to empty " + r.pgdata(),
          FailureTypes.PREFLIGHT_FAILED);
    }
    String uploadDir = RunDir.backupDir(RunDir.path(r.uploadDir()));
    List<String> archives = requireUploads(r, uploadDir);
    // One attempt at a time restores this run's pgdata: an earlier attempt's tar, find or chown is
    // stopped before this one goes on (the fence lives beside the saved conf files, on the
    // volume), and each step's marker lets it resume where that one stopped.
    PodFence.Fence fenced = fence.begin(ns, pod, saveDir + "/.fence-" + run);
    fenced.stopped().forEach(what -> log.warn("restorePgdata in {}/{}: {}", ns, pod, what));
    String lock = fenced.lock();
    // Read the step markers again now that no earlier attempt can add one.
    saved = listing(r, saveDir);
    List<Map.Entry<String, List<String>>> steps = restoreSteps(r, saveDir, uploadDir, archives);
    List<String> resumed = new ArrayList<>();
    for (int i = 0; i < steps.size(); i++) {
      String what = steps.get(i).getKey();
      String marker = ".restore-" + run + "." + (i + 1);
      if (saved.contains(marker)) {
        resumed.add(what);
        continue;
      }
      Heartbeats.beat(new Checkpoint("restorePgdata", null, 0, 0, null, what, List.of()));
      exec.check(ns, pod, PodCommands.fenced(lock, steps.get(i).getValue()), LONG);
      exec.check(
          ns, pod, PodCommands.fenced(lock, PodCommands.touch(saveDir + "/" + marker)), SHORT);
    }
    exec.check(ns, pod, PodCommands.fenced(lock, PodCommands.touch(saveDir + "/" + done)), SHORT);
    return ChangeResult.changed(
        (resumed.isEmpty() ? "" : "resumed after " + String.join(", ", resumed) + "; ")
            + "emptied "
            + r.pgdata()
            + ", extracted base and WAL, restored the conf files, chown "
            + r.dataOwner());
  }

  /**
   * The uploaded archives, base first: base.tar.gz or base.tar (a zstd base, decompressed on
   * upload) and, unless the backup was streamed with its WAL inside the base, pg_wal.tar.gz or
   * pg_wal.tar. Refuses to empty pgdata without a base archive.
   */
  private List<String> requireUploads(PgdataRequest r, String uploadDir) {
    List<String> uploaded = listing(r, uploadDir);
    List<String> archives = new ArrayList<>();
    for (String prefix : List.of("base.tar", "pg_wal.tar")) {
      uploaded.stream()
          .filter(n -> n.equals(prefix) || n.equals(prefix + ".gz"))
          .findFirst()
          .ifPresent(archives::add);
    }
    if (archives.isEmpty() || !archives.get(0).startsWith("base.tar")) {
      throw ApplicationFailure.newNonRetryableFailure(
          "base.tar.gz (or base.tar) is not in "
              + r.podName()
              + ":"
              + uploadDir
              + "; refusing to empty "
              + r.pgdata(),
          FailureTypes.BACKUP_INVALID);
    }
    return archives;
  }

  /** The restore's commands in order, each named for its heartbeat; step i's marker is i + 1. */
  private static List<Map.Entry<String, List<String>>> restoreSteps(
      PgdataRequest r, String saveDir, String uploadDir, List<String> archives) {
    List<Map.Entry<String, List<String>>> steps = new ArrayList<>();
    steps.add(Map.entry("empty pgdata", PodCommands.emptyDir(r.pgdata())));
    String base = uploadDir + "/" + archives.get(0);
    steps.add(Map.entry("extract base", PodCommands.extract(base, r.pgdata())));
    steps.add(Map.entry("create pg_wal", PodCommands.mkdirs(r.pgdata() + "/pg_wal")));
    if (archives.size() > 1) {
      String wal = uploadDir + "/" + archives.get(1);
      steps.add(Map.entry("extract WAL", PodCommands.extract(wal, r.pgdata() + "/pg_wal")));
    }
    for (String f : CONF_FILES) {
      steps.add(
          Map.entry("restore " + f, PodCommands.copy(saveDir + "/" + f, r.pgdata() + "/" + f)));
    }
    // chown last, so the restored conf files are the data owner's too.
    steps.add(Map.entry("chown", PodCommands.chownRecursive(r.dataOwner(), parent(r.pgdata()))));
    return steps;
  }

  @Override
  public ControlDataResult checkControlData(PgdataRequest r) {
    String out = exec.check(r.namespace(), r.podName(), PodCommands.controlData(r.pgdata()), SHORT);
    String state = controlField(out, CLUSTER_STATE);
    String needed = controlFields(out);
    if (!"in production".equals(state)) {
      throw ApplicationFailure.newNonRetryableFailure(
          "pg_controldata "
              + r.pgdata()
              + " shows 'Database cluster state: "
              + state
              + "', not 'in production'.\n"
              + needed,
          FailureTypes.CONTROL_DATA_MISMATCH);
    }
    return new ControlDataResult(state, needed);
  }

  public static final String CLUSTER_STATE = "Database cluster state";

  /**
   * The fields of pg_controldata's output the check needs, and nothing else of it (the output also
   * holds the mock authentication nonce and the system identifier): the cluster state, the control
   * and catalog versions, and the latest checkpoint.
   */
  static final List<String> CONTROL_FIELDS =
      List.of(
          CLUSTER_STATE,
          "pg_control version number",
          "Catalog version number",
          "Latest checkpoint location",
          "Time of latest checkpoint");

  static String controlFields(String out) {
    StringBuilder b = new StringBuilder();
    for (String f : CONTROL_FIELDS) {
      b.append(f).append(": ").append(controlField(out, f)).append('\n');
    }
    return b.toString();
  }

  /** One field of pg_controldata's output, or "unknown". */
  public static String controlField(String out, String field) {
    return out.lines()
        .filter(l -> l.startsWith(field + ":"))
        .map(l -> l.substring(field.length() + 1).strip())
        .findFirst()
        .orElse("unknown");
  }

  /** The annotation by which a run marks the restore pod it created: its workflow and run id. */
  public static final String RUN_ANNOTATION = "opschain.limepoint.com/db-upgrade-run";

  public static String runMarker() {
    return Heartbeats.workflowId() + "/" + Heartbeats.runId();
  }

  /** A pod of the name this run wants, not made by this run: left alone, and the run stops. */
  public static ApplicationFailure notOurs(String ns, String name, String wayOut) {
    return ApplicationFailure.newNonRetryableFailure(
        "pod "
            + ns
            + "/"
            + name
            + " exists but was not created by this run (annotation "
            + RUN_ANNOTATION
            + "); it was left alone. "
            + wayOut
            + ".",
        FailureTypes.NOT_OWNED);
  }

  public static boolean ours(Pod pod) {
    var annotations = pod.getMetadata().getAnnotations();
    return annotations != null && runMarker().equals(annotations.get(RUN_ANNOTATION));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  @Override
  public ChangeResult deleteRestorePod(RestorePodRequest r) {
    Pod existing = client.pods().inNamespace(r.namespace()).withName(r.podName()).get();
    if (existing == null) {
      return ChangeResult.unchanged("pod " + r.podName() + " is already gone");
    }
    if (!ours(existing)) {
      throw ApplicationFailure.newNonRetryableFailure(
          "pod "
              + r.namespace()
              + "/"
              + r.podName()
              + " was not created by this run (annotation "
              + RUN_ANNOTATION
              + "); it was left alone. Delete it by hand once nobody uses it.",
          FailureTypes.NOT_OWNED);
    }
    if (r.dryRun()) {
      return ChangeResult.unchanged("would delete pod " + r.podName());
    }
    // As the runbook's `kubectl delete pod` does (it waits by default), the step ends when the pod
    // is gone, not when its deletion was asked for: a real kubelet keeps it Terminating until its
    // processes have stopped, and only then may the cluster that mounts the same volume wake.
    boolean deleting = existing.getMetadata().getDeletionTimestamp() != null;
    if (!deleting) {
      client.pods().inNamespace(r.namespace()).withName(r.podName()).delete();
    }
    Waits.untilNone(
        "deleteRestorePod",
        List.of(h ->
            client
                .pods()
                .inNamespace(r.namespace())
                .withField("metadata.name", r.podName())
                .inform(h, 30_000)),
        () ->
            client.pods().inNamespace(r.namespace()).withName(r.podName()).get() == null
                ? List.of()
                : List.of(r.podName()),
        "waiting until this pod is gone: ",
        "pod " + r.podName() + " gone",
        Duration.ofMinutes(10).toSeconds());
    return deleting
        ? ChangeResult.unchanged("pod " + r.podName() + " was being deleted; it is gone")
        : ChangeResult.changed("deleted pod " + r.podName());
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
