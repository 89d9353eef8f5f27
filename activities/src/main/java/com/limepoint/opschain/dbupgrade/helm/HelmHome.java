package com.limepoint.opschain.dbupgrade.helm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the worker's Helm keeps its files, and which chart repositories it knows.
 *
 * <p>A chart reference such as {@code opschain/opschain} names a repository of Helm's repository
 * file ({@code repositories.yaml}) and needs that repository's index in Helm's cache ({@code
 * <cache>/repository/<repo>-index.yaml}); without it {@code helm upgrade} fails ("no cached repo
 * found", helm v3.21.4 pkg/downloader/chart_downloader.go:252). A person runs {@code helm repo add}
 * once and {@code helm repo update} before each upgrade; the worker does the update itself before
 * every chart it takes from a repository ({@link HelmCliReleases}), and reads the repository file
 * it is given.
 *
 * @param home Helm's cache, config and data directories ({@code HELM_CACHE_HOME}, {@code
 *     HELM_CONFIG_HOME}, {@code HELM_DATA_HOME}) under one writable directory; null: Helm's own
 *     defaults under {@code $HOME} (the image has no home and a read-only root: the deployment sets
 *     {@code /tmp/helm})
 * @param repositoryConfig the repository file ({@code HELM_REPOSITORY_CONFIG}), usually mounted
 *     from a Secret since it may hold credentials; null: the one under {@code home}, or Helm's
 *     default
 */
public record HelmHome(Path home, Path repositoryConfig) {
  /** Helm's own defaults, from the worker's environment. */
  public static final HelmHome DEFAULT = new HelmHome(null, null);

  /**
   * {@code <repo>/<chart>}: a chart taken from the repository {@code helm repo add} named {@code
   * <repo>} (a name without "/").
   */
  private static final Pattern REPOSITORY_CHART =
      Pattern.compile("([A-Za-z0-9][A-Za-z0-9._-]*)/[A-Za-z0-9][A-Za-z0-9._-]*");

  /** Sets Helm's variables for this home in a Helm process's environment. */
  public void apply(Map<String, String> env) {
    if (home != null) {
      env.put("HELM_CACHE_HOME", home.resolve("cache").toAbsolutePath().toString());
      env.put("HELM_CONFIG_HOME", home.resolve("config").toAbsolutePath().toString());
      env.put("HELM_DATA_HOME", home.resolve("data").toAbsolutePath().toString());
    }
    if (repositoryConfig != null) {
      env.put("HELM_REPOSITORY_CONFIG", repositoryConfig.toAbsolutePath().toString());
    }
  }

  /**
   * The repository {@code chart} is taken from, or null for a chart that is not: a local directory
   * or archive (Helm looks for a local path first, pkg/action/install.go:755 in LocateChart), an
   * {@code oci://} reference or a URL.
   */
  static String repositoryOf(String chart) {
    try {
      if (chart == null || Files.exists(Path.of(chart))) {
        return null;
      }
    } catch (java.nio.file.InvalidPathException e) {
      return null;
    }
    Matcher m = REPOSITORY_CHART.matcher(chart);
    return m.matches() ? m.group(1) : null;
  }
}
