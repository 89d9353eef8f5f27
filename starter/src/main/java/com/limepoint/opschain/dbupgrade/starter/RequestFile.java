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
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.NodeId;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.representer.Representer;
import org.yaml.snakeyaml.resolver.Resolver;

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
      parsed = yaml().load(Files.readString(file));
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

  /**
   * SnakeYAML with YAML 1.1's timestamps read as the text written: {@code currentVersion:
   * 2025-10-01} is the version string, not a date (a chart version is never a timestamp here).
   */
  private static Yaml yaml() {
    LoaderOptions options = new LoaderOptions();
    DumperOptions dump = new DumperOptions();
    Resolver textTimestamps =
        new Resolver() {
          @Override
          public Tag resolve(NodeId kind, String value, boolean implicit) {
            Tag tag = super.resolve(kind, value, implicit);
            return Tag.TIMESTAMP.equals(tag) ? Tag.STR : tag;
          }
        };
    return new Yaml(
        new SafeConstructor(options), new Representer(dump), dump, options, textTimestamps);
  }

  private static String reason(IOException e) {
    return switch (e) {
      case NoSuchFileException x -> "no such file";
      case AccessDeniedException x -> "permission denied";
      default -> String.valueOf(e.getMessage());
    };
  }
}
