package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Helm releases on the cluster-in-a-box: the chart is rendered by the real {@code helm template}
 * (the binary {@link BuiltTools#helm} builds, the one the image carries) and the objects are
 * applied through fabric8; objects the new revision no longer renders are deleted, as Helm does.
 * Revisions, status and description are kept here, because Helm's own storage needs answers the
 * mock API server cannot give.
 */
public final class ChartReleases {

  /** One stored revision. */
  public record Revision(
      int revision, String status, String chartVersion, String description, String manifest) {}

  /**
   * How many revisions that reached deployed (deployed or superseded since) each step of a run has,
   * by the step its description names (ours end in {@code <workflow>/<run>/<step>}). A Helm call
   * killed mid-upgrade leaves its revision failed or pending and the retry rolls back first ({@code
   * <step>-recovered}): those are history, not effects, and not counted.
   */
  public static java.util.Map<String, Long> deployedPerStep(List<Revision> history, String run) {
    return history.stream()
        .filter(r -> r.status().equals("deployed") || r.status().equals("superseded"))
        .filter(r -> r.description().contains(run) && !r.description().endsWith("-recovered"))
        .collect(
            java.util.stream.Collectors.groupingBy(
                r -> r.description().substring(r.description().lastIndexOf('/') + 1),
                java.util.TreeMap::new,
                java.util.stream.Collectors.counting()));
  }

  /** What one upgrade is given (the fields of the activities' HelmCall). */
  public record Call(
      String namespace,
      String release,
      String version,
      List<String> valuesFiles,
      Map<String, String> set,
      String description,
      boolean waitReady,
      int timeoutSeconds,
      boolean atomic) {

    /** An upgrade without --wait and --atomic. */
    public Call(
        String namespace,
        String release,
        String version,
        List<String> valuesFiles,
        Map<String, String> set,
        String description) {
      this(namespace, release, version, valuesFiles, set, description, false, 0, false);
    }
  }

  private final KubernetesClient client;
  private final Path chart;
  private final boolean inCluster;
  private final Function<Call, String> renderer;
  private final Map<String, List<Revision>> releases = new ConcurrentHashMap<>();

  public ChartReleases(KubernetesClient client, Path chart) {
    this(client, chart, false);
  }

  /**
   * With {@code inCluster}, the revisions are kept in a ConfigMap {@code chart-releases-<release>}
   * in the release's namespace, so that a worker in another process (with its own client to this
   * cluster) shares them, as Helm's clients share the release Secrets.
   */
  public ChartReleases(KubernetesClient client, Path chart, boolean inCluster) {
    this(client, chart, inCluster, null);
  }

  /**
   * With a {@code renderer} other than {@link #helmTemplate}, which renders {@code chart} for a
   * call.
   */
  public ChartReleases(
      KubernetesClient client, Path chart, boolean inCluster, Function<Call, String> renderer) {
    this.client = client;
    this.chart = chart;
    this.inCluster = inCluster;
    this.renderer = renderer;
  }

  /** The revisions of a release (a mutable list), from the cluster when kept there. */
  private List<Revision> revisions(String namespace, String release) {
    if (!inCluster) {
      return releases.computeIfAbsent(namespace + "/" + release, k -> new ArrayList<>());
    }
    var map = client.configMaps().inNamespace(namespace).withName(STORE + release).get();
    List<Revision> revs = new ArrayList<>();
    Map<String, String> d = map == null || map.getData() == null ? Map.of() : map.getData();
    for (int n = 1; d.containsKey(n + ".status"); n++) {
      revs.add(
          new Revision(
              n,
              d.get(n + ".status"),
              d.get(n + ".chartVersion"),
              d.getOrDefault(n + ".description", ""),
              d.getOrDefault(n + ".manifest", "")));
    }
    return revs;
  }

  private void save(String namespace, String release, List<Revision> revs) {
    if (!inCluster) {
      return;
    }
    Map<String, String> d = new LinkedHashMap<>();
    for (Revision r : revs) {
      d.put(r.revision() + ".status", r.status());
      d.put(r.revision() + ".chartVersion", r.chartVersion());
      d.put(r.revision() + ".description", r.description());
      d.put(r.revision() + ".manifest", r.manifest());
    }
    client
        .configMaps()
        .inNamespace(namespace)
        .resource(
            new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                .withNewMetadata()
                .withName(STORE + release)
                .withNamespace(namespace)
                .endMetadata()
                .withData(d)
                .build())
        .createOr(io.fabric8.kubernetes.client.dsl.NonDeletingOperation::update);
  }

  private static final String STORE = "chart-releases-";

  /** The test chart, copied out of the classpath to a directory Helm can read. */
  public static Path testChart(Path into) {
    try {
      Path dir = into.resolve("opschain");
      for (String f :
          List.of(
              "Chart.yaml",
              "values.yaml",
              "templates/services.yaml",
              "templates/legacy-db.yaml",
              "templates/cluster.yaml")) {
        try (InputStream in = ChartReleases.class.getResourceAsStream("/charts/opschain/" + f)) {
          Path out = dir.resolve(f);
          Files.createDirectories(out.getParent());
          Files.copy(in, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public synchronized List<Revision> history(String namespace, String release) {
    return List.copyOf(revisions(namespace, release));
  }

  /**
   * helm install (revision 1) or helm upgrade, as Helm 3 does it (helm pkg/action/upgrade.go): the
   * new revision is recorded {@code pending-upgrade}, the objects are applied and the ones no
   * longer rendered deleted; with {@code --wait} the rendered Deployments and StatefulSets must
   * become ready within the timeout (pkg/kube/ready.go: a Deployment is ready when its ready
   * replicas reach spec.replicas minus maxUnavailable, which rounds down to 0 for one replica).
   * Only then is the earlier revision superseded and the new one deployed. When the wait times out,
   * the revision is marked {@code failed} with the description {@code Upgrade "<release>" failed:
   * context deadline exceeded} and the earlier one stays deployed (failRelease); with {@code
   * --atomic} it is then rolled back to the last deployed revision, a new revision with the
   * description {@code Rollback to <n>}, which deletes what only the failed revision rendered, and
   * the error is {@code release <name> failed, and has been rolled back due to atomic being set:
   * context deadline exceeded}.
   */
  public Revision upgrade(Call call) {
    String manifest = render(call);
    Revision pending;
    synchronized (this) {
      List<Revision> revs = revisions(call.namespace(), call.release());
      if (!revs.isEmpty() && revs.get(revs.size() - 1).status().startsWith("pending")) {
        throw new IllegalStateException(
            "another operation (install/upgrade/rollback) is in progress");
      }
      String previous = deployedManifest(revs);
      pending =
          new Revision(
              revs.size() + 1, "pending-upgrade", call.version(), call.description(), manifest);
      revs.add(pending);
      save(call.namespace(), call.release(), revs);
      apply(call.namespace(), call.release(), manifest, previous);
    }
    if (call.waitReady()
        && !HelmWait.readyWithin(
            client, call.namespace(), objects(manifest).values(), call.timeoutSeconds())) {
      String why = "context deadline exceeded";
      int lastDeployed;
      synchronized (this) {
        List<Revision> revs = revisions(call.namespace(), call.release());
        revs.set(
            pending.revision() - 1,
            new Revision(
                pending.revision(),
                "failed",
                call.version(),
                "Upgrade \"" + call.release() + "\" failed: " + why,
                manifest));
        save(call.namespace(), call.release(), revs);
        lastDeployed =
            revs.stream()
                .filter(r -> r.status().equals("deployed"))
                .mapToInt(Revision::revision)
                .reduce((a, b) -> b)
                .orElse(0);
      }
      if (call.atomic() && lastDeployed > 0) {
        rollback(call.namespace(), call.release(), lastDeployed, "Rollback to " + lastDeployed);
        throw new IllegalStateException(
            "release "
                + call.release()
                + " failed, and has been rolled back due to atomic being set: "
                + why);
      }
      throw new IllegalStateException(why);
    }
    synchronized (this) {
      List<Revision> revs = revisions(call.namespace(), call.release());
      revs.replaceAll(r ->
          r.status().equals("deployed")
              ? new Revision(
                  r.revision(), "superseded", r.chartVersion(), r.description(), r.manifest())
              : r);
      Revision done =
          new Revision(
              pending.revision(), "deployed", call.version(), call.description(), manifest);
      revs.set(pending.revision() - 1, done);
      save(call.namespace(), call.release(), revs);
      return done;
    }
  }

  /**
   * helm rollback: re-applies the old revision's objects as a new revision. What it prunes is
   * measured against the release's last revision, whatever its status (helm pkg/action/rollback.go
   * prepareRollback: {@code currentRelease, err := r.cfg.Releases.Last(name)}), so objects that
   * only a failed revision created are deleted.
   */
  public synchronized Revision rollback(
      String namespace, String release, int to, String description) {
    List<Revision> revs = revisions(namespace, release);
    Revision target = revs.get(to - 1);
    String last = revs.get(revs.size() - 1).manifest();
    String previous = last.isBlank() ? deployedManifest(revs) : last;
    apply(namespace, release, target.manifest(), previous);
    revs.replaceAll(r ->
        r.status().equals("deployed") || r.status().startsWith("pending")
            ? new Revision(
                r.revision(),
                r.status().startsWith("pending") ? "failed" : "superseded",
                r.chartVersion(),
                r.description(),
                r.manifest())
            : r);
    Revision done =
        new Revision(
            revs.size() + 1, "deployed", target.chartVersion(), description, target.manifest());
    revs.add(done);
    save(namespace, release, revs);
    return done;
  }

  /** The manifest of the revision deployed now, or "" before the first. */
  private static String deployedManifest(List<Revision> revs) {
    return revs.stream()
        .filter(r -> r.status().equals("deployed"))
        .reduce((a, b) -> b)
        .map(Revision::manifest)
        .orElse("");
  }

  /** What a client killed mid-upgrade leaves behind: a pending revision with its description. */
  public synchronized void leavePending(
      String namespace, String release, String version, String description) {
    List<Revision> revs = revisions(namespace, release);
    revs.add(new Revision(revs.size() + 1, "pending-upgrade", version, description, ""));
    save(namespace, release, revs);
  }

  public String render(Call call) {
    return renderer != null ? renderer.apply(call) : helmTemplate(chart, call);
  }

  /**
   * {@code helm template <release> <chart> --namespace <ns> [--values f]... [--set k=v]...}: the
   * manifest Helm would apply for the call, rendered by the helm binary as an argv list.
   */
  public static String helmTemplate(Path chart, Call call) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                BuiltTools.helm().toString(),
                "template",
                call.release(),
                chart.toString(),
                "--namespace",
                call.namespace()));
    call.valuesFiles().forEach(f -> argv.addAll(List.of("--values", f)));
    call.set().forEach((k, v) -> argv.addAll(List.of("--set", k + "=" + v)));
    try {
      Process p = new ProcessBuilder(argv).start();
      p.getOutputStream().close();
      var err =
          java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try (InputStream e = p.getErrorStream()) {
              return new String(e.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException x) {
              return x.toString();
            }
          });
      String out;
      try (InputStream in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      if (p.waitFor() != 0) {
        throw new IllegalStateException(
            "helm template " + call.release() + " exited " + p.exitValue() + ": " + err.join());
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while helm template ran", e);
    }
  }

  private void apply(String namespace, String release, String manifest, String previous) {
    Map<String, HasMetadata> now = objects(manifest);
    for (HasMetadata item : now.values()) {
      item.getMetadata().setNamespace(namespace);
      applyOne(namespace, release, item);
    }
    Set<String> keep = now.keySet();
    for (Map.Entry<String, HasMetadata> old : objects(previous).entrySet()) {
      if (!keep.contains(old.getKey())) {
        client.resource(old.getValue()).inNamespace(namespace).delete();
      }
    }
  }

  /**
   * Create, or replace with the latest resourceVersion, retrying when a controller got between.
   * Every object gets the ownership metadata Helm 3 puts on what it installs or upgrades: the label
   * {@code app.kubernetes.io/managed-by: Helm} and the annotations {@code
   * meta.helm.sh/release-name} and {@code meta.helm.sh/release-namespace} (helm/helm
   * pkg/action/validate.go, setMetadataVisitor, applied to every resource by install.go and
   * upgrade.go).
   */
  private void applyOne(String namespace, String release, HasMetadata item) {
    var meta = item.getMetadata();
    var labels =
        meta.getLabels() == null
            ? new java.util.HashMap<String, String>()
            : new java.util.HashMap<>(meta.getLabels());
    labels.put("app.kubernetes.io/managed-by", "Helm");
    meta.setLabels(labels);
    var annotations =
        meta.getAnnotations() == null
            ? new java.util.HashMap<String, String>()
            : new java.util.HashMap<>(meta.getAnnotations());
    annotations.put("meta.helm.sh/release-name", release);
    annotations.put("meta.helm.sh/release-namespace", namespace);
    meta.setAnnotations(annotations);
    for (int attempt = 0; ; attempt++) {
      try {
        HasMetadata existing = client.resource(item).inNamespace(namespace).get();
        if (existing == null) {
          client.resource(item).inNamespace(namespace).create();
        } else {
          item.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
          client.resource(item).inNamespace(namespace).update();
        }
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt >= 20) {
          throw e;
        }
      }
    }
  }

  private Map<String, HasMetadata> objects(String manifest) {
    if (manifest.isBlank()) {
      return Map.of();
    }
    return client
        .load(new ByteArrayInputStream(manifest.getBytes(StandardCharsets.UTF_8)))
        .items()
        .stream()
        .collect(
            Collectors.toMap(
                o -> o.getKind() + "/" + o.getMetadata().getName(),
                o -> o,
                (a, b) -> b,
                LinkedHashMap::new));
  }
}
