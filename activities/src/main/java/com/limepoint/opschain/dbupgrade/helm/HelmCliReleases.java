package com.limepoint.opschain.dbupgrade.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * {@link HelmReleases} on the {@code helm} binary (Helm 3, pinned by {@code bin/ensure-helm} and
 * carried by the image), one process per operation, each an argv list with the worker's kubeconfig
 * and context ({@code --kubeconfig}, {@code --kube-context}); the environment is the worker's minus
 * its own settings and secrets ({@link #helmEnvironment}).
 *
 * <ul>
 *   <li>The history comes from {@code helm history -o json}, which sorts by revision
 *       (cmd/helm/history.go:120); the activities sort again, whatever the port gives.
 *   <li>A cancelled upgrade gets SIGTERM ({@link #interrupt}): Helm cancels its context and marks
 *       the release failed, rolling back when {@code --atomic} (helm v3.21.4 cmd/helm/upgrade.go
 *       lines 226-238, pkg/action/upgrade.go failRelease). Only a killed worker (SIGKILL) leaves
 *       {@code pending-upgrade}, which a retry of the same run rolls back with {@code helm
 *       rollback}.
 * </ul>
 */
public class HelmCliReleases implements HelmReleases {
  private static final int OUTPUT_TAIL = 4096;

  private final String helm;
  private final Path kubeconfig;
  private final String kubeContext;
  private final HelmSlots slots;
  private final HelmHome home;
  private final ObjectMapper json = new ObjectMapper();
  private final ConcurrentHashMap<String, Process> running = new ConcurrentHashMap<>();

  /**
   * @param helm the binary (a path, or a name on the PATH)
   * @param kubeconfig the worker's kubeconfig; null: Helm's default (in-cluster, $KUBECONFIG)
   * @param kubeContext its context; null: the kubeconfig's current one
   */
  public HelmCliReleases(String helm, Path kubeconfig, String kubeContext, HelmSlots slots) {
    this(helm, kubeconfig, kubeContext, slots, HelmHome.DEFAULT);
  }

  /**
   * @param home where Helm keeps its files and which repositories it knows ({@link HelmHome})
   */
  public HelmCliReleases(
      String helm, Path kubeconfig, String kubeContext, HelmSlots slots, HelmHome home) {
    this.helm = helm;
    this.home = home;
    this.kubeconfig = kubeconfig;
    this.kubeContext = kubeContext == null || kubeContext.isBlank() ? null : kubeContext;
    this.slots = slots;
  }

  public HelmSlots slots() {
    return slots;
  }

  @Override
  public List<Revision> history(String namespace, String release) {
    Result r =
        run(
            "history " + namespace + "/" + release,
            List.of(
                "history", release, "--namespace", namespace, "--max", "1000", "--output", "json"));
    if (r.exit() != 0) {
      if (r.stderr().contains("release: not found")) {
        return List.of();
      }
      throw r.failure("helm history " + release);
    }
    List<Revision> revisions = new ArrayList<>();
    for (JsonNode h : tree(r.stdout())) {
      revisions.add(
          new Revision(
              h.path("revision").asInt(),
              h.path("status").asText(null),
              chartVersion(h.path("chart").asText(null)),
              h.path("description").asText(null)));
    }
    revisions.sort(Comparator.comparingInt(Revision::revision));
    return revisions;
  }

  @Override
  public Revision upgrade(HelmCall call) {
    refreshRepository(call.chart());
    List<String> args = new ArrayList<>(call.argv().subList(1, call.argv().size()));
    args.addAll(List.of("--output", "json"));
    Result r = run(key(call), args);
    if (r.exit() != 0) {
      throw r.failure("helm upgrade " + call.release() + " " + call.version());
    }
    JsonNode rel = tree(r.stdout());
    return new Revision(
        rel.path("version").asInt(),
        rel.path("info").path("status").asText(null),
        rel.path("chart").path("metadata").path("version").asText(null),
        rel.path("info").path("description").asText(call.description()));
  }

  /**
   * {@code helm rollback} to {@code toRevision}: Helm adds a new revision ("Rollback to N"; the CLI
   * takes no description, so {@code description} is only logged by the caller) and leaves the
   * pending one as it was, superseded.
   */
  @Override
  public Revision rollback(String namespace, String release, int toRevision, String description) {
    Result r =
        run(
            "rollback " + namespace + "/" + release,
            List.of(
                "rollback",
                release,
                Integer.toString(toRevision),
                "--namespace",
                namespace,
                "--timeout",
                "300s"));
    if (r.exit() != 0) {
      throw r.failure("helm rollback " + release + " " + toRevision);
    }
    List<Revision> after = history(namespace, release);
    return after.get(after.size() - 1);
  }

  @Override
  public String render(HelmCall call) {
    refreshRepository(call.chart());
    List<String> args =
        new ArrayList<>(
            List.of(
                "template",
                call.release(),
                call.chart(),
                "--namespace",
                call.namespace(),
                "--version",
                call.version()));
    for (String f : call.valuesFiles()) {
      args.addAll(List.of("--values", f));
    }
    call.set().forEach((k, v) -> args.addAll(List.of("--set", k + "=" + v)));
    Result r = run("render " + call.namespace() + "/" + call.release(), args);
    if (r.exit() != 0) {
      throw r.failure("helm template " + call.release());
    }
    return r.stdout();
  }

  /**
   * {@code helm repo update <repo>} for a chart taken from a repository ({@link
   * HelmHome#repositoryOf}), as a person runs it before {@code helm upgrade}: Helm reads the
   * chart's versions from the index in its cache, which is absent on a fresh worker and stale once
   * a new chart version is published. A repository the worker's repository file does not name is a
   * setting to fix, not worth a retry; an index that cannot be fetched is retried.
   */
  private void refreshRepository(String chart) {
    String repo = HelmHome.repositoryOf(chart);
    if (repo == null) {
      return;
    }
    Result r = run("repo update " + repo, List.of("repo", "update", repo));
    if (r.exit() == 0) {
      return;
    }
    if (r.stderr().contains("no repositories found")) {
      throw ApplicationFailure.newNonRetryableFailure(
          "chart "
              + chart
              + ": the worker's Helm knows no repository '"
              + repo
              + "'; give it a repositories.yaml that names it (OPSCHAIN_HELM_REPOSITORY_CONFIG,"
              + " docs/operations.md)",
          FailureTypes.HELM_FAILED);
    }
    throw r.failure("helm repo update " + repo);
  }

  /**
   * {@code helm list --pending --selector} on the release: its newest revision, when pending and
   * labelled with this run's {@link HelmCall#RUN_LABEL}.
   */
  @Override
  public boolean pendingFrom(String namespace, String release, String runLabel) {
    Result r =
        run(
            "list " + namespace + "/" + release,
            List.of(
                "list",
                "--namespace",
                namespace,
                "--filter",
                "^" + release.replace(".", "\\.") + "$",
                "--pending",
                "--selector",
                HelmCall.RUN_LABEL + "=" + runLabel,
                "--output",
                "json"));
    if (r.exit() != 0) {
      throw r.failure("helm list " + release);
    }
    return tree(r.stdout()).size() > 0;
  }

  /**
   * Sends SIGTERM to the Helm process running {@code call}, if any: Helm cancels the operation and
   * records it failed (with {@code --atomic}, rolled back) before it exits; the caller waits for
   * that.
   */
  @Override
  public void interrupt(HelmCall call) {
    Process p = running.get(key(call));
    if (p != null && p.isAlive()) {
      p.destroy();
    }
  }

  /** The binary's argv for {@code args}, with the kubeconfig and context. */
  List<String> argv(List<String> args) {
    List<String> argv = new ArrayList<>();
    argv.add(helm);
    argv.addAll(args);
    if (kubeconfig != null) {
      argv.addAll(List.of("--kubeconfig", kubeconfig.toAbsolutePath().toString()));
    }
    if (kubeContext != null) {
      argv.addAll(List.of("--kube-context", kubeContext));
    }
    return argv;
  }

  private static String key(HelmCall call) {
    return "upgrade " + call.namespace() + "/" + call.release() + " " + call.description();
  }

  /** One Helm process, once one of the {@link HelmSlots} is free. */
  private Result run(String what, List<String> args) {
    return slots.run(what, () -> runProcess(what, args));
  }

  private Result runProcess(String what, List<String> args) {
    ProcessBuilder pb = new ProcessBuilder(argv(args));
    helmEnvironment(pb.environment());
    home.apply(pb.environment());
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw ApplicationFailure.newNonRetryableFailure(
          "cannot run "
              + helm
              + " ("
              + e.getMessage()
              + "): the worker needs the helm binary"
              + " (bin/ensure-helm; the image carries it)",
          FailureTypes.HELM_FAILED);
    }
    running.put(what, p);
    try {
      p.getOutputStream().close();
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
      String out = read(p.getInputStream());
      int exit = p.waitFor();
      return new Result(exit, out, err.join());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      // The activity's thread was interrupted: stop Helm as a cancel does, and wait for it.
      p.destroy();
      try {
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException again) {
        p.destroyForcibly();
      }
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure(
          "interrupted while Helm ran " + what, FailureTypes.HELM_FAILED);
    } finally {
      running.remove(what, p);
    }
  }

  /**
   * The worker's environment without what Helm has no use for: the worker's own settings ({@code
   * OPSCHAIN_*}, {@code TEMPORAL_*}: an API key among them) and the JVM option variables meant for
   * the worker's JVM.
   */
  static void helmEnvironment(Map<String, String> env) {
    env.keySet()
        .removeIf(k ->
            k.startsWith("OPSCHAIN_")
                || k.startsWith("TEMPORAL_")
                || k.equals("JAVA_TOOL_OPTIONS")
                || k.equals("JDK_JAVA_OPTIONS"));
  }

  /**
   * The chart's version from {@code helm history}'s chart column ({@code <name>-<version>}, for
   * example {@code opschain-2025-10-01}); the column itself when it has no version suffix.
   */
  static String chartVersion(String chart) {
    if (chart == null) {
      return null;
    }
    var m = Pattern.compile("-(v?\\d{4}-\\d{2}-\\d{2}.*|v?\\d+\\.\\d+.*)$").matcher(chart);
    return m.find() ? m.group(1) : chart;
  }

  private static String read(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private JsonNode tree(String text) {
    try {
      return json.readTree(text);
    } catch (IOException e) {
      // Never the text itself: a release's JSON holds the user's values.
      throw ApplicationFailure.newFailure(
          "helm printed no JSON (" + text.length() + " characters)", FailureTypes.HELM_FAILED);
    }
  }

  private static String tail(String s) {
    String t = s.strip();
    return t.length() <= OUTPUT_TAIL ? t : "…" + t.substring(t.length() - OUTPUT_TAIL);
  }

  record Result(int exit, String stdout, String stderr) {
    /**
     * A failed Helm command, with its exit code and the tail of its standard error (never its
     * standard output, which may hold the release's values).
     */
    ApplicationFailure failure(String what) {
      return ApplicationFailure.newFailure(
          what
              + " exited "
              + exit
              + ": "
              + (stderr.isBlank() ? "(nothing on stderr)" : tail(stderr)),
          FailureTypes.HELM_FAILED);
    }
  }
}
