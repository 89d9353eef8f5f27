package com.limepoint.opschain.dbupgrade.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code postgres --version} prints in a container of an image, as that image would print it.
 *
 * <ul>
 *   <li>PostgreSQL images name their version in the tag: Docker's official {@code postgres} image
 *       ({@code 15}, {@code 15.6}, {@code 15.6-bookworm}, {@code 16-alpine};
 *       docker-library/postgres, whose Dockerfile puts {@code /usr/lib/postgresql/$PG_MAJOR/bin} on
 *       the PATH), CloudNativePG's operand images ({@code ghcr.io/cloudnative-pg/postgresql:16.2},
 *       {@code 16.2-1-bookworm}; cloudnative-pg/postgres-containers) and OpsChain's {@code
 *       limepoint/opschain-db:17.5} (the runbook's restore image). Their Debian builds print the
 *       PGDG package's version after the server's, as the local Debian PostgreSQL does: "postgres
 *       (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)". A tag without a minor (15) is whatever minor
 *       the image was last built with; the harness says .0.
 *   <li>{@link ClusterInABox#RESTORE_IMAGE}, the harness's own image, is this machine's PostgreSQL:
 *       its {@code postgres --version} really runs (or, without PostgreSQL, the simulated one
 *       answers).
 *   <li>Any other image has no {@code postgres} on its PATH: the container cannot start.
 * </ul>
 */
final class ImageVersions {
  /** name[:tag][@digest]; the tag follows the last ':' after the last '/'. */
  private static final Pattern VERSION_TAG =
      Pattern.compile("(\\d{1,4})(?:\\.(\\d{1,4}))?(?:\\.(\\d{1,4}))?(?:[-_].*)?");

  private ImageVersions() {}

  /** What an image's {@code postgres --version} prints. */
  sealed interface Answer {}

  /** It ran and printed {@code line}. */
  record Printed(String line) implements Answer {}

  /** The image has no such program: the runtime cannot start the container. */
  record NoProgram() implements Answer {}

  /** A PostgreSQL image whose version the harness cannot tell (latest, a digest): a test error. */
  record Unknown(String why) implements Answer {}

  static Answer postgresVersion(String image) {
    if (ClusterInABox.RESTORE_IMAGE.equals(image)) {
      return new Printed(localVersion());
    }
    String ref = image.contains("@") ? image.substring(0, image.indexOf('@')) : image;
    int slash = ref.lastIndexOf('/');
    int colon = ref.lastIndexOf(':');
    String repo = colon > slash ? ref.substring(slash + 1, colon) : ref.substring(slash + 1);
    String tag = colon > slash ? ref.substring(colon + 1) : "";
    if (!repo.contains("postgres") && !repo.equals("opschain-db")) {
      return new NoProgram();
    }
    Matcher m = VERSION_TAG.matcher(tag);
    if (!m.matches()) {
      return new Unknown(
          "cluster-in-a-box cannot tell the PostgreSQL version of "
              + image
              + "; use a tag that names it (postgres:15.6)");
    }
    int major = Integer.parseInt(m.group(1));
    String version =
        major >= 10
            ? major + "." + (m.group(2) == null ? "0" : m.group(2))
            : major
                + "."
                + (m.group(2) == null ? "0" : m.group(2))
                + "."
                + (m.group(3) == null ? "0" : m.group(3));
    boolean debian = !tag.contains("alpine");
    return new Printed(
        "postgres (PostgreSQL) "
            + version
            + (debian ? " (Debian " + version + "-1.pgdg120+1)" : ""));
  }

  /** This machine's {@code postgres --version}, run for real, or the simulated server's. */
  private static String localVersion() {
    List<String> argv =
        new PodRuntime("local", 0, java.util.Map.of()).translate(List.of("postgres", "--version"));
    if (!Files.isExecutable(java.nio.file.Path.of(argv.get(0)))) {
      return SimulatedPostgres.VERSION_LINE;
    }
    try {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (p.waitFor() != 0) {
        throw new IllegalStateException(argv + " exited " + p.exitValue() + ": " + out);
      }
      return out;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
