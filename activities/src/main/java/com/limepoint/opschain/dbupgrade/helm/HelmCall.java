package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything one {@code helm upgrade} is given, built in one place from the activity's request: the
 * chart and version, the values files in order, the {@code --set} switches, the marker description,
 * {@code --wait}, {@code --timeout} and {@code --atomic} (rollback on failure).
 */
public record HelmCall(
    String namespace,
    String release,
    String chart,
    String version,
    List<String> valuesFiles,
    Map<String, String> set,
    String description,
    boolean waitReady,
    int timeoutSeconds,
    boolean atomic) {

  /**
   * The marker a revision carries: which run and which step made it. {@code run} is {@code
   * <workflowId>/<runId>}, so a later run of the same namespace never takes an earlier run's
   * revision for its own.
   */
  public static String marker(String run, String step) {
    return "opschain-db-upgrade " + run + "/" + step;
  }

  /** The release label every revision of a run's deploys carries (Helm's {@code --labels}). */
  public static final String RUN_LABEL = "opschain-db-upgrade-run";

  /**
   * The value of {@link #RUN_LABEL} for {@code run} ({@code <workflowId>/<runId>}): the first 40
   * hex digits of its SHA-256, since a label value is at most 63 characters of [A-Za-z0-9._-]. Helm
   * writes a revision's labels when it creates the revision, pending ({@code --labels}, helm
   * v3.21.4 pkg/action/upgrade.go:300), but its description only at the end ("Preparing upgrade"
   * until then, line 295): the label is what tells a pending revision of this run from anyone
   * else's.
   */
  public static String runLabel(String run) {
    try {
      byte[] d =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(run.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(d).substring(0, 40);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The run of a marker description ({@code <workflowId>/<runId>}), or null. */
  String run() {
    String prefix = "opschain-db-upgrade ";
    if (description == null || !description.startsWith(prefix)) {
      return null;
    }
    String rest = description.substring(prefix.length());
    int step = rest.lastIndexOf('/');
    return step <= 0 ? null : rest.substring(0, step);
  }

  public static HelmCall of(HelmActivities.UpgradeRequest r, String run) {
    return new HelmCall(
        r.namespace(),
        r.release(),
        r.chart(),
        r.version(),
        List.copyOf(r.valuesFiles()),
        new TreeMap<>(r.set()),
        marker(run, r.step()),
        !r.noWait(),
        (int) Math.min(Integer.MAX_VALUE, r.timeoutSeconds()),
        !r.noWait());
  }

  /** The equivalent command line, for logs and the dry-run summary (no values are inlined). */
  public List<String> argv() {
    List<String> out =
        new java.util.ArrayList<>(
            List.of(
                "helm", "upgrade", release, chart, "--namespace", namespace, "--version", version));
    for (String f : valuesFiles) {
      out.add("-f");
      out.add(f);
    }
    set.forEach((k, v) -> {
      out.add("--set");
      out.add(k + "=" + v);
    });
    out.add("--description");
    out.add(description);
    if (run() != null) {
      out.add("--labels");
      out.add(RUN_LABEL + "=" + runLabel(run()));
    }
    if (waitReady) {
      out.add("--wait");
    }
    out.add("--timeout");
    out.add(timeoutSeconds + "s");
    if (atomic) {
      out.add("--atomic");
    }
    return out;
  }
}
