package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.model.UpgradeRequest;
import com.limepoint.opschain.dbupgrade.model.UpgradeRequests;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.YAMLException;

/** The request file of {@code start}, {@code plan} and {@code demo}: YAML or JSON (a subset). */
final class RequestFile {
  private RequestFile() {}

  /**
   * Reads and checks the request.
   *
   * @throws IllegalArgumentException naming the file and what is wrong: it cannot be read, it is
   *     not a mapping, or a field breaks a rule
   */
  static UpgradeRequest read(Path file) {
    UpgradeRequest r = UpgradeRequest.fromJson(fields(file));
    // The workflow checks the same rules; checking here refuses bad input before any call.
    try {
      UpgradeRequests.validate(r, UpgradeRequests.workflowId(r.namespace()));
    } catch (ApplicationFailure e) {
      throw new IllegalArgumentException(file + ": " + e.getOriginalMessage());
    }
    return r;
  }

  private static Map<String, Object> fields(Path file) {
    Object parsed;
    try {
      parsed = new Yaml().load(Files.readString(file));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + reason(e));
    } catch (YAMLException e) {
      throw new IllegalArgumentException(file + " is not YAML or JSON: " + e.getMessage());
    }
    if (!(parsed instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException(file + " must hold a mapping of request fields");
    }
    Map<String, Object> fields = new HashMap<>();
    map.forEach((k, v) -> fields.put(String.valueOf(k), v));
    return fields;
  }

  private static String reason(IOException e) {
    return switch (e) {
      case NoSuchFileException x -> "no such file";
      case AccessDeniedException x -> "permission denied";
      default -> String.valueOf(e.getMessage());
    };
  }
}
