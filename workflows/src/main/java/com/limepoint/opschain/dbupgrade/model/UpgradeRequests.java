package com.limepoint.opschain.dbupgrade.model;

import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The one place where a request is checked and completed with the runbook's defaults. Bad input
 * fails with a single non-retryable {@code InvalidRequest} that names every bad field, before any
 * activity runs.
 */
public final class UpgradeRequests {

  /** The workflow id is derived from the namespace: one upgrade per namespace. */
  public static final String WORKFLOW_ID_PREFIX = "opschain-db-upgrade-";

  public static final String DEFAULT_DB_DEPLOYMENT = "opschain-db";
  public static final String DEFAULT_CLUSTER_NAME = "opschain-db";
  public static final List<String> DEFAULT_RESTART_DEPLOYMENTS =
      List.of("opschain-api", "opschain-api-worker", "opschain-log-aggregator");
  public static final String DEFAULT_HOST_BACKUP_DIR = "/limepoint/backup";
  public static final String DEFAULT_POD_BACKUP_DIR = "/tmp/backup";
  public static final String DEFAULT_MAX_RATE = "300M";
  public static final String DEFAULT_RESTORE_IMAGE = "limepoint/opschain-db:17.5";
  public static final String DEFAULT_PGDATA = "/var/lib/postgresql/data/pgdata";
  public static final String DEFAULT_DATA_OWNER = "26:26";
  public static final String DEFAULT_DB_USER = "opschain";

  /**
   * The backup goes straight from the db pod to the worker host, compressed by the server with zstd
   * where PostgreSQL can (15 and later; gzip, the runbook's, before): at 4.3 GiB that was the
   * shortest downtime measured (docs/performance.md, "Downtime"): 88.3 s on the automatic path,
   * against 171.7 s for the runbook's gzip written in the pod and copied, and 160.8 s streamed with
   * gzip, whose client-side compression runs in one thread.
   */
  public static final String DEFAULT_BACKUP_MODE = "stream";

  public static final String DEFAULT_BACKUP_FORMAT = "auto";

  /** The runbook's format: the default of runs started before {@code auto} was. */
  public static final String RUNBOOK_BACKUP_FORMAT = "gzip";

  static final java.util.List<String> BACKUP_MODES = java.util.List.of("stream", "pod");

  static final java.util.List<String> BACKUP_FORMATS = java.util.List.of("auto", "gzip", "zstd");

  /** The database OpsChain keeps its data in: what the census counts and compares. */
  public static final String DEFAULT_DATABASE = "opschain";

  public static final String DEFAULT_IMPORT_TIMEOUT = "12h";
  public static final String DEFAULT_GATE_TIMEOUT = "72h";
  public static final String HIBERNATE_BY_HELM = "helm";
  public static final String HIBERNATE_BY_ANNOTATION = "annotation";

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern CHART = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/@+-]*");
  private static final Pattern IMAGE = Pattern.compile("[a-z0-9][A-Za-z0-9._:/@-]*");
  private static final Pattern MAX_RATE = Pattern.compile("[1-9][0-9]*[kM]?");
  private static final Pattern OWNER = Pattern.compile("[0-9]{1,10}:[0-9]{1,10}");
  private static final Pattern DB_USER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
  private static final Pattern APPROVER = Pattern.compile("[A-Za-z0-9._@+-]{1,128}");
  private static final Pattern SAFE_PATH = Pattern.compile("(/[A-Za-z0-9._+-]+)+");
  private static final Pattern SIMPLE_DURATION = Pattern.compile("([0-9]{1,6})([smhd])");
  private static final Duration MIN_TIMEOUT = Duration.ofMinutes(1);
  private static final Duration MAX_TIMEOUT = Duration.ofDays(30);

  private UpgradeRequests() {}

  public static String workflowId(String namespace) {
    return WORKFLOW_ID_PREFIX + namespace;
  }

  /**
   * Checks the request and returns it with every default filled in.
   *
   * @param workflowId the id the workflow runs under; it must be {@link #workflowId(String)} of the
   *     namespace, so that two upgrades of one namespace cannot run at once
   * @throws ApplicationFailure non-retryable, type {@code InvalidRequest}
   */
  public static UpgradeRequest validate(UpgradeRequest in, String workflowId) {
    if (in == null) {
      throw invalid(List.of("request: missing; pass the UpgradeRequest JSON as the input"));
    }
    List<String> problems = new ArrayList<>(in.inputProblems());
    UpgradeRequest r = withDefaults(in, DEFAULT_BACKUP_FORMAT);

    releaseProblems(problems, r);
    clusterProblems(problems, r);
    runProblems(problems, r);
    if (problems.isEmpty() && workflowId != null && !workflowId.equals(workflowId(r.namespace()))) {
      problems.add(
          "namespace: the workflow id must be '"
              + workflowId(r.namespace())
              + "' (one upgrade per namespace), but it is '"
              + workflowId
              + "'");
    }
    if (!problems.isEmpty()) {
      throw invalid(problems);
    }
    return r;
  }

  /** The release, the chart and the two versions. */
  private static void releaseProblems(List<String> problems, UpgradeRequest r) {
    label(problems, "namespace", r.namespace(), 63);
    label(problems, "release", r.release(), 53);
    required(
        problems, "chart", r.chart(), CHART, 512, "a chart reference such as opschain/opschain");
    version(problems, "currentVersion", r.currentVersion());
    version(problems, "targetVersion", r.targetVersion());
    if (OpsChainVersion.isValid(r.targetVersion())
        && !OpsChainVersion.parse(r.targetVersion()).isCnpgRelease()) {
      problems.add(
          "targetVersion: must be "
              + OpsChainVersion.CNPG_FIRST_RELEASE
              + " or later, the first OpsChain version on CloudNativePG");
    }
    if (OpsChainVersion.isValid(r.currentVersion())
        && OpsChainVersion.isValid(r.targetVersion())
        && OpsChainVersion.parse(r.targetVersion())
                .compareTo(OpsChainVersion.parse(r.currentVersion()))
            <= 0) {
      problems.add("targetVersion: must be later than currentVersion " + r.currentVersion());
    }
  }

  /** The names and paths in the cluster and on the host. */
  private static void clusterProblems(List<String> problems, UpgradeRequest r) {
    path(problems, "valuesFile", r.valuesFile(), 1);
    subdomain(problems, "dbDeployment", r.dbDeployment());
    subdomain(problems, "clusterName", r.clusterName());
    if (r.restartDeployments().isEmpty()) {
      problems.add("restartDeployments: must name at least one deployment");
    }
    for (int i = 0; i < r.restartDeployments().size(); i++) {
      subdomain(problems, "restartDeployments[" + i + "]", r.restartDeployments().get(i));
    }
    path(problems, "hostBackupDir", r.hostBackupDir(), 1);
    path(problems, "podBackupDir", r.podBackupDir(), 1);
    required(problems, "maxRate", r.maxRate(), MAX_RATE, 8, "a rate such as 300M or 32k");
    required(problems, "restoreImage", r.restoreImage(), IMAGE, 255, "an image reference");
    subdomain(problems, "pvcName", r.pvcName());
    // pgdata is emptied during a manual restore: refuse anything shallower than /a/b.
    path(problems, "pgdata", r.pgdata(), 2);
    if (nested(r.podBackupDir(), r.pgdata())) {
      problems.add(
          "podBackupDir: '"
              + r.podBackupDir()
              + "' must not be, contain or lie inside pgdata '"
              + r.pgdata()
              + "' (the manual restore empties pgdata and uploads the backup to podBackupDir)");
    }
  }

  /** The restore's owner, the database role, the timeouts, the approvers and the hibernation. */
  private static void runProblems(List<String> problems, UpgradeRequest r) {
    required(problems, "dataOwner", r.dataOwner(), OWNER, 21, "uid:gid such as 26:26");
    required(problems, "dbUser", r.dbUser(), DB_USER, 63, "a PostgreSQL role name");
    required(problems, "database", r.database(), DB_USER, 63, "a PostgreSQL database name");
    if (r.skipRehearsal() != null
        && (r.skipRehearsal().isBlank()
            || r.skipRehearsal().length() > 300
            || r.skipRehearsal().contains("\n"))) {
      problems.add(
          "skipRehearsal: the reason the restore rehearsal is skipped, one line of 1 to 300"
              + " characters; it is recorded and shown at BACKUP_VERIFIED");
    }
    if (!BACKUP_MODES.contains(r.backupMode())) {
      problems.add(
          "backupMode: 'stream' (straight to the worker host, no pod disk) or 'pod' (the runbook's:"
              + " written in the db pod, then copied), got '"
              + r.backupMode()
              + "'");
    }
    if (!BACKUP_FORMATS.contains(r.backupFormat())) {
      problems.add(
          "backupFormat: 'auto' (zstd on PostgreSQL 15 and later, else gzip), 'gzip' (the"
              + " runbook's) or 'zstd', got '"
              + r.backupFormat()
              + "'");
    }
    timeout(problems, "importTimeout", r.importTimeout());
    timeout(problems, "gateTimeout", r.gateTimeout());
    for (int i = 0; i < r.approvers().size(); i++) {
      required(
          problems, "approvers[" + i + "]", r.approvers().get(i), APPROVER, 128, "a user name");
    }
    if (!HIBERNATE_BY_HELM.equals(r.hibernateBy())
        && !HIBERNATE_BY_ANNOTATION.equals(r.hibernateBy())) {
      problems.add("hibernateBy: must be 'helm' or 'annotation', got '" + r.hibernateBy() + "'");
    }
  }

  /**
   * The data PVC of a cluster's first instance, the one the manual restore writes to: CNPG names an
   * instance {@code <cluster>-<serial>} and its data PVC after it (cloudnative-pg pkg/specs/pods.go
   * GetInstanceName, pkg/reconciler/persistentvolumeclaim/calculator.go); the runbook's {@code
   * opschain-db-1} is that of its default cluster.
   */
  public static String defaultPvcName(String clusterName) {
    return clusterName == null || clusterName.isEmpty() ? null : clusterName + "-1";
  }

  /** Fills in the runbook's defaults; checks nothing. */
  public static UpgradeRequest withDefaults(UpgradeRequest r) {
    return withDefaults(r, DEFAULT_BACKUP_FORMAT);
  }

  private static UpgradeRequest withDefaults(UpgradeRequest r, String defaultFormat) {
    String clusterName = or(r.clusterName(), DEFAULT_CLUSTER_NAME);
    return new UpgradeRequest(
        r.namespace(),
        r.release(),
        r.chart(),
        r.currentVersion(),
        r.targetVersion(),
        r.valuesFile(),
        or(r.dbDeployment(), DEFAULT_DB_DEPLOYMENT),
        clusterName,
        r.restartDeployments() == null ? DEFAULT_RESTART_DEPLOYMENTS : r.restartDeployments(),
        or(r.hostBackupDir(), DEFAULT_HOST_BACKUP_DIR),
        or(r.podBackupDir(), DEFAULT_POD_BACKUP_DIR),
        or(r.maxRate(), DEFAULT_MAX_RATE),
        or(r.restoreImage(), DEFAULT_RESTORE_IMAGE),
        or(r.pvcName(), defaultPvcName(clusterName)),
        or(r.pgdata(), DEFAULT_PGDATA),
        or(r.dataOwner(), DEFAULT_DATA_OWNER),
        or(r.dbUser(), DEFAULT_DB_USER),
        or(r.importTimeout(), DEFAULT_IMPORT_TIMEOUT),
        or(r.gateTimeout(), DEFAULT_GATE_TIMEOUT),
        r.approvers() == null ? List.of() : r.approvers(),
        or(r.hibernateBy(), HIBERNATE_BY_HELM),
        r.skipGates() == null ? Boolean.FALSE : r.skipGates(),
        r.dryRun() == null ? Boolean.FALSE : r.dryRun(),
        or(r.database(), DEFAULT_DATABASE),
        r.skipRehearsal(),
        or(r.backupMode(), DEFAULT_BACKUP_MODE),
        or(r.backupFormat(), defaultFormat),
        r.inputProblems());
  }

  /**
   * Parses {@code 90s}, {@code 30m}, {@code 12h}, {@code 7d} or ISO-8601 ({@code PT12H}).
   *
   * @throws IllegalArgumentException when the text is neither
   */
  public static Duration parseDuration(String text) {
    if (text == null) {
      throw new IllegalArgumentException("missing");
    }
    var m = SIMPLE_DURATION.matcher(text);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }
    try {
      return Duration.parse(text);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a duration such as 30m, 12h, 7d or PT12H");
    }
  }

  public static ApplicationFailure invalid(List<String> problems) {
    return ApplicationFailure.newNonRetryableFailure(
        "Invalid request: " + String.join("; ", problems), FailureTypes.INVALID_REQUEST);
  }

  private static String or(String value, String fallback) {
    return value == null ? fallback : value;
  }

  private static void label(List<String> problems, String field, String value, int max) {
    if (value == null || value.isEmpty()) {
      problems.add(field + ": required");
    } else if (value.length() > max || !DNS_LABEL.matcher(value).matches()) {
      problems.add(
          field
              + ": '"
              + value
              + "' is not an RFC 1123 label (lower-case letters, digits and '-', at most "
              + max
              + " characters)");
    }
  }

  private static void subdomain(List<String> problems, String field, String value) {
    if (value == null || value.isEmpty()) {
      problems.add(field + ": must not be empty");
    } else if (value.length() > 253 || !DNS_SUBDOMAIN.matcher(value).matches()) {
      problems.add(field + ": '" + value + "' is not an RFC 1123 name");
    }
  }

  private static void required(
      List<String> problems, String field, String value, Pattern p, int max, String what) {
    if (value == null || value.isEmpty()) {
      problems.add(field + ": required");
    } else if (value.length() > max || !p.matcher(value).matches()) {
      problems.add(field + ": '" + value + "' is not " + what);
    }
  }

  private static void version(List<String> problems, String field, String value) {
    if (value == null || value.isEmpty()) {
      problems.add(field + ": required");
    } else if (!OpsChainVersion.isValid(value)) {
      problems.add(
          field + ": '" + value + "' is not an OpsChain version (YYYY-MM-DD, optionally -suffix)");
    }
  }

  private static void path(List<String> problems, String field, String value, int minDepth) {
    if (value == null || value.isEmpty()) {
      problems.add(field + ": required");
      return;
    }
    boolean ok = value.length() <= 1024 && SAFE_PATH.matcher(value).matches();
    int depth = 0;
    for (String part : value.split("/")) {
      if (part.equals(".") || part.equals("..")) {
        ok = false;
      }
      if (!part.isEmpty()) {
        depth++;
      }
    }
    if (!ok || depth < minDepth) {
      problems.add(
          field
              + ": '"
              + value
              + "' must be an absolute path of letters, digits, '.', '_', '+' and '-'"
              + (minDepth > 1 ? ", at least " + minDepth + " levels deep" : "")
              + ", without '..'");
    }
  }

  /** True when both paths are given and one is the other or lies inside it. */
  private static boolean nested(String a, String b) {
    if (a == null || b == null || a.isEmpty() || b.isEmpty()) {
      return false;
    }
    String x = a.endsWith("/") ? a : a + "/";
    String y = b.endsWith("/") ? b : b + "/";
    return x.startsWith(y) || y.startsWith(x);
  }

  private static void timeout(List<String> problems, String field, String value) {
    try {
      Duration d = parseDuration(value);
      if (d.compareTo(MIN_TIMEOUT) < 0 || d.compareTo(MAX_TIMEOUT) > 0) {
        problems.add(field + ": '" + value + "' must be between 1m and 30d");
      }
    } catch (IllegalArgumentException e) {
      problems.add(field + ": " + e.getMessage());
    }
  }
}
