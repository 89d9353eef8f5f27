package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The kubeconfig Helm gets when the worker is told a context ({@code OPSCHAIN_KUBE_CONTEXT}): the
 * same file with {@code current-context} set to it, so Helm talks to the cluster fabric8 talks to.
 * helm-java 0.0.21 has no {@code --kube-context}; it takes kubeconfig contents instead. The file is
 * the worker's kubeconfig, else {@code $KUBECONFIG} (one file), else {@code ~/.kube/config}, as
 * fabric8 and Helm read it.
 */
final class KubeContext {
  private KubeContext() {}

  /** The kubeconfig's text with {@code current-context: <context>}; refuses an unknown context. */
  @SuppressWarnings("unchecked") // kubeconfig YAML, as SnakeYAML reads it
  static String contents(Path kubeconfig, String context, Map<String, String> env) {
    Path file = kubeconfig != null ? kubeconfig : defaultFile(env);
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read kubeconfig " + file + " for Helm", e);
    }
    Map<String, Object> config = new Yaml().load(text);
    List<Map<String, Object>> contexts =
        config.get("contexts") instanceof List<?> l ? (List<Map<String, Object>>) l : List.of();
    if (contexts.stream().noneMatch(c -> context.equals(c.get("name")))) {
      throw ApplicationFailure.newNonRetryableFailure(
          "kubeconfig "
              + file
              + " has no context '"
              + context
              + "' (OPSCHAIN_KUBE_CONTEXT); its contexts: "
              + contexts.stream().map(c -> String.valueOf(c.get("name"))).toList(),
          FailureTypes.HELM_FAILED);
    }
    config.put("current-context", context);
    DumperOptions o = new DumperOptions();
    o.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    return new Yaml(o).dump(config);
  }

  private static Path defaultFile(Map<String, String> env) {
    String list = env.get("KUBECONFIG");
    if (list != null && !list.isBlank()) {
      String[] files = list.split(java.io.File.pathSeparator);
      if (files.length > 1) {
        throw ApplicationFailure.newNonRetryableFailure(
            "KUBECONFIG names "
                + files.length
                + " files; with OPSCHAIN_KUBE_CONTEXT set, point OPSCHAIN_KUBECONFIG at the one"
                + " file that has the context",
            FailureTypes.HELM_FAILED);
      }
      return Path.of(files[0]);
    }
    return Path.of(System.getProperty("user.home"), ".kube", "config");
  }
}
