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
