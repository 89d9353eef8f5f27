package com.limepoint.opschain.dbupgrade.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The input of {@code DbUpgradeWorkflow}: what a user sends with {@code temporal workflow start
 * --input '{...}'}. Required fields are the ones the runbook cannot guess; every other field
 * defaults to the runbook's value when it is left out (see {@link UpgradeRequests#withDefaults}).
 *
 * <p>The JSON creator never throws: unknown fields and wrong JSON types are collected in {@link
 * #inputProblems()} so that the workflow fails with one {@code InvalidRequest} naming them, rather
 * than failing its workflow task over and over on a deserialization error.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record UpgradeRequest(
    String namespace,
    String release,
    String chart,
    String currentVersion,
    String targetVersion,
    String valuesFile,
    String dbDeployment,
    String clusterName,
    List<String> restartDeployments,
    String hostBackupDir,
    String podBackupDir,
    String maxRate,
    String restoreImage,
    String pvcName,
    String pgdata,
    String dataOwner,
    String dbUser,
    String importTimeout,
    String gateTimeout,
    List<String> approvers,
    String hibernateBy,
    Boolean skipGates,
    Boolean dryRun,
    String database,
    String skipRehearsal,
    String backupMode,
    String backupFormat,
    @JsonIgnore List<String> inputProblems) {

  /** Every field name a request may carry; anything else is reported as unknown. */
  public static final List<String> FIELDS =
      List.of(
          "namespace",
          "release",
          "chart",
          "currentVersion",
          "targetVersion",
          "valuesFile",
          "dbDeployment",
          "clusterName",
          "restartDeployments",
          "hostBackupDir",
          "podBackupDir",
          "maxRate",
          "restoreImage",
          "pvcName",
          "pgdata",
          "dataOwner",
          "dbUser",
          "importTimeout",
          "gateTimeout",
          "approvers",
          "hibernateBy",
          "skipGates",
          "dryRun",
          "database",
          "skipRehearsal",
          "backupMode",
          "backupFormat");

  public UpgradeRequest {
    restartDeployments = restartDeployments == null ? null : List.copyOf(restartDeployments);
    approvers = approvers == null ? null : List.copyOf(approvers);
    inputProblems = inputProblems == null ? List.of() : List.copyOf(inputProblems);
  }

  /** The six required fields; the rest default to the runbook's values. */
  public static UpgradeRequest of(
      String namespace,
      String release,
      String chart,
      String currentVersion,
      String targetVersion,
      String valuesFile) {
    return fromJson(Map.of())
        .with("namespace", namespace)
        .with("release", release)
        .with("chart", chart)
        .with("currentVersion", currentVersion)
        .with("targetVersion", targetVersion)
        .with("valuesFile", valuesFile);
  }

  /** Lenient JSON creator: records problems instead of throwing (see the class comment). */
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static UpgradeRequest fromJson(Map<String, Object> json) {
    Reader r = new Reader(json == null ? Map.of() : json);
    return new UpgradeRequest(
        r.string("namespace"),
        r.string("release"),
        r.string("chart"),
        r.string("currentVersion"),
        r.string("targetVersion"),
        r.string("valuesFile"),
        r.string("dbDeployment"),
        r.string("clusterName"),
        r.strings("restartDeployments"),
        r.string("hostBackupDir"),
        r.string("podBackupDir"),
        r.string("maxRate"),
        r.string("restoreImage"),
        r.string("pvcName"),
        r.string("pgdata"),
        r.string("dataOwner"),
        r.string("dbUser"),
        r.string("importTimeout"),
        r.string("gateTimeout"),
        r.strings("approvers"),
        r.string("hibernateBy"),
        r.bool("skipGates"),
        r.bool("dryRun"),
        r.string("database"),
        r.string("skipRehearsal"),
        r.string("backupMode"),
        r.string("backupFormat"),
        r.problems());
  }

  /**
   * A copy with one field changed: the request's fields as JSON, the one field set, read back by
   * the same lenient reader as a user's request, so a wrong name or type becomes an input problem
   * that validation reports. The one way to derive a request from another (the dry run, tests).
   */
  public UpgradeRequest with(String field, Object value) {
    Map<String, Object> json = toJson();
    json.put(field, value);
    UpgradeRequest changed = fromJson(json);
    if (inputProblems.isEmpty()) {
      return changed;
    }
    List<String> problems = new ArrayList<>(inputProblems);
    problems.addAll(changed.inputProblems);
    return changed.withProblems(problems);
  }

  public UpgradeRequest withDryRun(boolean value) {
    return with("dryRun", value);
  }

  public UpgradeRequest withSkipGates(boolean value) {
    return with("skipGates", value);
  }

  public UpgradeRequest withApprovers(List<String> value) {
    return with("approvers", value);
  }

  /** The fields a user set, as the JSON map {@link #fromJson} reads (nulls included). */
  private Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("namespace", namespace);
    json.put("release", release);
    json.put("chart", chart);
    json.put("currentVersion", currentVersion);
    json.put("targetVersion", targetVersion);
    json.put("valuesFile", valuesFile);
    json.put("dbDeployment", dbDeployment);
    json.put("clusterName", clusterName);
    json.put("restartDeployments", restartDeployments);
    json.put("hostBackupDir", hostBackupDir);
    json.put("podBackupDir", podBackupDir);
    json.put("maxRate", maxRate);
    json.put("restoreImage", restoreImage);
    json.put("pvcName", pvcName);
    json.put("pgdata", pgdata);
    json.put("dataOwner", dataOwner);
    json.put("dbUser", dbUser);
    json.put("importTimeout", importTimeout);
    json.put("gateTimeout", gateTimeout);
    json.put("approvers", approvers);
    json.put("hibernateBy", hibernateBy);
    json.put("skipGates", skipGates);
    json.put("dryRun", dryRun);
    json.put("database", database);
    json.put("skipRehearsal", skipRehearsal);
    json.put("backupMode", backupMode);
    json.put("backupFormat", backupFormat);
    return json;
  }

  private UpgradeRequest withProblems(List<String> problems) {
    return new UpgradeRequest(
        namespace,
        release,
        chart,
        currentVersion,
        targetVersion,
        valuesFile,
        dbDeployment,
        clusterName,
        restartDeployments,
        hostBackupDir,
        podBackupDir,
        maxRate,
        restoreImage,
        pvcName,
        pgdata,
        dataOwner,
        dbUser,
        importTimeout,
        gateTimeout,
        approvers,
        hibernateBy,
        skipGates,
        dryRun,
        database,
        skipRehearsal,
        backupMode,
        backupFormat,
        problems);
  }

  public boolean dryRunRequested() {
    return Boolean.TRUE.equals(dryRun);
  }

  public boolean gatesSkipped() {
    return Boolean.TRUE.equals(skipGates);
  }

  /** Reads the JSON map field by field, noting every wrong type and unknown field. */
  private static final class Reader {
    private final Map<String, Object> json;
    private final List<String> problems = new ArrayList<>();

    Reader(Map<String, Object> json) {
      this.json = new LinkedHashMap<>(json);
      for (String key : this.json.keySet()) {
        if (!FIELDS.contains(key)) {
          problems.add(key + ": unknown field (known fields: " + String.join(", ", FIELDS) + ")");
        }
      }
    }

    String string(String field) {
      return typed(field, String.class, "a string");
    }

    Boolean bool(String field) {
      return typed(field, Boolean.class, "true or false");
    }

    List<String> strings(String field) {
      List<?> list = typed(field, List.class, "a list of strings");
      if (list == null) {
        return null;
      }
      List<String> out = new ArrayList<>();
      for (Object item : list) {
        if (!(item instanceof String s)) {
          problems.add(field + ": every item must be a string, got " + describe(item));
          return null;
        }
        out.add(s);
      }
      return out;
    }

    /** The field's value when it is of {@code type} (or absent: null), else a problem and null. */
    private <T> T typed(String field, Class<T> type, String expected) {
      Object v = json.get(field);
      if (v == null || type.isInstance(v)) {
        return type.cast(v);
      }
      problems.add(field + ": must be " + expected + ", got " + describe(v));
      return null;
    }

    List<String> problems() {
      return problems;
    }

    private static String describe(Object v) {
      return v instanceof String ? "a string" : v instanceof List ? "a list" : "'" + v + "'";
    }
  }
}
