package com.limepoint.opschain.dbupgrade.e2e;

import com.limepoint.opschain.dbupgrade.helm.HelmCall;
import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.kube.RunDir;
import com.limepoint.opschain.dbupgrade.model.ApprovalEntry;
import com.limepoint.opschain.dbupgrade.model.StepState;
import com.limepoint.opschain.dbupgrade.model.StepStatus;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.PodCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * "No destructive step without a verified backup and an approved gate", checked on what really ran:
 * every pod command and every deleting API call the activities sent to the harness, and every Helm
 * deploy. Each destructive one must target something this run created (a run directory the run made
 * with {@code mkdir} and whose {@value RunDir#OWNER} marker names the workflow and the run that its
 * name carries), or come after the gate that allows it was approved and the backup was verified:
 * the new version's deploy after BACKUP_VERIFIED, the pgdata wipe, extract and chown and the
 * cluster and restore-pod deletes after MANUAL_RESTORE. A signal may only go to a process whose
 * command line the activity read first.
 */
final class DestructiveAudit {

  /** The facts a scenario's audit needs beside the harness's logs. */
  record Run(
      String workflowId,
      String targetVersion,
      String pgdata,
      List<ApprovalEntry> approvals,
      List<StepStatus> steps) {}

  /** One Helm upgrade as the activities asked for it, with when. */
  record Deploy(String version, String description, long atMillis) {}

  private DestructiveAudit() {}

  static List<String> violations(
      Run run, List<PodCommand> commands, List<ClusterInABox.ApiCall> calls, List<Deploy> deploys) {
    List<String> out = new ArrayList<>();
    List<PodCommand> mine =
        commands.stream().filter(c -> ClusterInABox.ACTIVITY_AGENT.equals(c.userAgent())).toList();
    for (int i = 0; i < mine.size(); i++) {
      PodCommand c = mine.get(i);
      List<String> argv = unfenced(c.argv());
      for (String target : targets(argv)) {
        if (insideOwnedRunDir(run, target, mine.subList(0, i))) {
          continue;
        }
        // The rehearsal's pod: created by this run (POST, its run annotation checked) with an
        // emptyDir at /rehearsal, which is new and empty with the pod: nothing in it predates
        // the run, and it goes with the pod.
        if (c.pod().endsWith("-rehearsal")
            && under(target, "/rehearsal")
            && createdPod(calls, c.pod(), c.startedMillis())) {
          continue;
        }
        if (under(target, parent(run.pgdata()))
            && allowed(run, "MANUAL_RESTORE", c.startedMillis())) {
          continue;
        }
        out.add(
            c + ": targets " + target + ", which this run did not create, before " + gateFor(run));
      }
      if (!argv.isEmpty() && argv.get(0).equals("perl")) {
        for (String pid : argv.subList(5, argv.size())) {
          boolean confirmed =
              mine.subList(0, i).stream()
                  .anyMatch(p ->
                      p.pod().equals(c.pod())
                          && p.argv().equals(List.of("cat", "/proc/" + pid + "/cmdline")));
          if (!confirmed) {
            out.add(c + ": signals process group " + pid + " without reading its command line");
          }
        }
      }
    }
    long postedPods =
        calls.stream()
            .filter(a -> ClusterInABox.ACTIVITY_AGENT.equals(a.userAgent()))
            .filter(a ->
                a.method().equals("POST")
                    && a.path().matches("/api/v1/namespaces/[^/]+/pods(\\?.*)?"))
            .count();
    for (ClusterInABox.ApiCall a : calls) {
      if (!ClusterInABox.ACTIVITY_AGENT.equals(a.userAgent()) || !a.method().equals("DELETE")) {
        continue;
      }
      boolean restorePod = a.path().matches("/api/v1/namespaces/[^/]+/pods/restore-from-backup.*");
      boolean cluster =
          a.path().matches("/apis/postgresql.cnpg.io/v1/namespaces/[^/]+/clusters/.*");
      if ((restorePod && postedPods > 0 || cluster)
          && allowed(run, "MANUAL_RESTORE", a.atMillis())) {
        continue;
      }
      // The short-lived pod that asks the restore image its version before MANUAL_RESTORE opens:
      // this run created it (and checked its run annotation before touching it), nothing else.
      if ((a.path().matches("/api/v1/namespaces/[^/]+/pods/restore-image-check-[0-9a-f]+")
              || a.path().matches("/api/v1/namespaces/[^/]+/pods/[a-z0-9-]+-rehearsal"))
          && postedPods > 0) {
        continue;
      }
      out.add("DELETE " + a.path() + " is not something this run may delete at that point");
    }
    for (Deploy d : deploys) {
      if (d.version().equals(run.targetVersion())
          && !allowed(run, "BACKUP_VERIFIED", d.atMillis())) {
        out.add(
            "helm upgrade to "
                + d.version()
                + " ("
                + d.description()
                + ") before an approved"
                + " BACKUP_VERIFIED and a verified backup");
      }
    }
    return out;
  }

  /** What a command deletes, overwrites or changes in place; empty for reads and creations. */
  static List<String> targets(List<String> argv) {
    if (argv.isEmpty()) {
      return List.of();
    }
    List<String> args = argv.subList(1, argv.size());
    List<String> operands = args.stream().filter(a -> !a.startsWith("-")).toList();
    return switch (argv.get(0)) {
      case "rm" -> operands;
      case "find" -> args.contains("-delete") ? List.of(args.get(0)) : List.of();
      case "tar" ->
          args.stream().anyMatch(a -> a.startsWith("-x")) && args.contains("-C")
              ? List.of(args.get(args.indexOf("-C") + 1))
              : List.of();
      case "chown" -> args.contains("-R") ? List.of(args.get(args.size() - 1)) : List.of();
      case "mv" -> operands;
      case "cp" -> args.contains("-n") ? List.of() : List.of(args.get(args.size() - 1));
      case "dd" -> args.stream().filter(a -> a.startsWith("of=")).map(a -> a.substring(3)).toList();
      case "pg_basebackup" -> List.of(args.get(args.indexOf("-D") + 1));
      // The streamed backup's script (StreamedBackup.command) removes only its FIFO and the two
      // small files beside it, in the run directory it is given as $1; any other shell script is
      // not audited, so it is reported.
      case "sh" ->
          args.size() > 3 && args.get(0).equals("-c") && args.get(1).contains("stream.fifo")
              ? List.of(args.get(3) + "/stream.fifo", args.get(3) + "/stream.sum")
              : args.contains("-c")
                  ? List.of("(a shell script this audit cannot read)")
                  : List.of();
      default -> List.of();
    };
  }

  /** The command behind {@code setsid --wait flock ... <lock>}. */
  static List<String> unfenced(List<String> argv) {
    if (argv.size() > 8 && argv.get(0).equals("setsid") && argv.get(2).equals("flock")) {
      return argv.subList(8, argv.size());
    }
    return argv;
  }

  /**
   * {@code target} lies in a directory that an earlier command of the run made with {@code mkdir
   * --} and whose owner marker names this workflow and the run id in the directory's name.
   */
  private static boolean insideOwnedRunDir(Run run, String target, List<PodCommand> earlier) {
    for (PodCommand c : earlier) {
      List<String> argv = c.argv();
      if (argv.size() == 3
          && argv.get(0).equals("mkdir")
          && argv.get(1).equals("--")
          && c.exitCode() == 0) {
        String dir = argv.get(2);
        if (under(target, dir) && ownedBy(run, dir)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * The activities created a pod before {@code atMillis} (a POST names its pod in the body only).
   */
  private static boolean createdPod(List<ClusterInABox.ApiCall> calls, String pod, long atMillis) {
    return calls.stream()
        .anyMatch(a ->
            ClusterInABox.ACTIVITY_AGENT.equals(a.userAgent())
                && a.method().equals("POST")
                && a.path().matches("/api/v1/namespaces/[^/]+/pods(\\?.*)?")
                && a.atMillis() <= atMillis);
  }

  private static boolean ownedBy(Run run, String dir) {
    try {
      String[] owner = Files.readString(Path.of(dir, RunDir.OWNER)).strip().split(" ");
      return owner.length == 2
          && (owner[0].equals(run.workflowId())
              || owner[0].equals(run.workflowId() + "-manual-restore"))
          && dir.endsWith("/" + owner[0] + "." + owner[1]);
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean allowed(Run run, String gate, long atMillis) {
    boolean approved =
        run.approvals().stream()
            .anyMatch(a ->
                a.gate().equals(gate)
                    && a.decision().equals("APPROVED")
                    && Instant.parse(a.at()).toEpochMilli() <= atMillis);
    boolean verified =
        run.steps().stream()
            .anyMatch(s ->
                s.name().equals("verifyBackup")
                    && s.state() == StepState.DONE
                    && Instant.parse(s.endedAt()).toEpochMilli() <= atMillis);
    return approved && verified;
  }

  private static String gateFor(Run run) {
    return "an approved MANUAL_RESTORE after a verified backup";
  }

  private static boolean under(String path, String dir) {
    return path.equals(dir) || path.startsWith(dir + "/");
  }

  private static String parent(String path) {
    return path.substring(0, path.lastIndexOf('/'));
  }

  /** Helm as the e2e scenarios run it, recording every upgrade for the audit. */
  static final class RecordingReleases implements HelmReleases {
    private final HelmReleases delegate;
    final List<Deploy> deploys = new CopyOnWriteArrayList<>();
    private volatile int timeoutCapSeconds = Integer.MAX_VALUE;

    RecordingReleases(HelmReleases delegate) {
      this.delegate = delegate;
    }

    /**
     * Scales Helm's clock for a test: every {@code --timeout} longer than this many seconds becomes
     * this many seconds (the 40 minutes of a deploy stand for a few seconds), so that a scenario
     * can make something take longer than Helm waits.
     */
    void capTimeout(int seconds) {
      timeoutCapSeconds = seconds;
    }

    private HelmCall capped(HelmCall c) {
      return c.timeoutSeconds() <= timeoutCapSeconds
          ? c
          : new HelmCall(
              c.namespace(),
              c.release(),
              c.chart(),
              c.version(),
              c.valuesFiles(),
              c.set(),
              c.description(),
              c.waitReady(),
              timeoutCapSeconds,
              c.atomic());
    }

    @Override
    public List<Revision> history(String namespace, String release) {
      return delegate.history(namespace, release);
    }

    /** Deploys whose marker ends with this step fail, as Helm does when the API is away. */
    volatile String failing;

    @Override
    public Revision upgrade(HelmCall call) {
      String step = failing;
      if (step != null && call.description().endsWith("/" + step)) {
        throw new IllegalStateException(
            "Kubernetes cluster unreachable: Get \"https://10.96.0.1:443/version\": dial tcp"
                + " 10.96.0.1:443: connect: connection refused");
      }
      deploys.add(new Deploy(call.version(), call.description(), System.currentTimeMillis()));
      return delegate.upgrade(capped(call));
    }

    @Override
    public Revision rollback(String namespace, String release, int toRevision, String description) {
      return delegate.rollback(namespace, release, toRevision, description);
    }

    @Override
    public String render(HelmCall call) {
      return delegate.render(call);
    }

    @Override
    public void interrupt(HelmCall call) {
      delegate.interrupt(capped(call));
    }

    @Override
    public boolean pendingFrom(String namespace, String release, String runLabel) {
      return delegate.pendingFrom(namespace, release, runLabel);
    }
  }
}
