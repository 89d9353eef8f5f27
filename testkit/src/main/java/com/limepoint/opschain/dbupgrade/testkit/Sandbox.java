package com.limepoint.opschain.dbupgrade.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A test's own folder under the module's {@code target}, and its removal. Each end-to-end case
 * leaves about 180 MB (two PostgreSQL data directories, a backup, a rehearsal); the 94 cases of one
 * CI run filled the CI machine's disk when they were kept. A test removes its sandbox when it ends,
 * passed or failed (its logs are in the surefire and failsafe reports); set the system property
 * {@code sandbox.keep=true} to keep them while looking into a failure.
 */
public final class Sandbox {
  private Sandbox() {}

  /** A new, empty folder {@code target/<prefix><random>} of the module the test runs in. */
  public static Path create(String prefix) {
    try {
      return Files.createTempDirectory(Path.of("target").toAbsolutePath(), prefix);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Removes {@code dir} and everything in it (nothing when it is null or gone), unless {@code
   * sandbox.keep} is set. Run it after the processes that write there have stopped.
   */
  public static void delete(Path dir) {
    if (dir == null || Boolean.getBoolean("sandbox.keep")) {
      return;
    }
    deleteTree(dir);
  }

  /** Removes {@code dir} and everything in it, always (scratch space nobody needs to look at). */
  public static void deleteTree(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a folder that vanished while walking it is gone, which is what was asked
    }
  }
}
