package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.kube.PodCommands;
import com.limepoint.opschain.dbupgrade.kube.PodExec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code SHA256SUMS} file, in {@code sha256sum -c} format: the one parser (of the file and of
 * {@code sha256sum}'s output) and the one writer, for the pod's copy that takeBackup records and
 * the host's copy that the copy out writes beside its files.
 */
final class SumsFile {
  static final String NAME = "SHA256SUMS";

  private static final Pattern LINE = Pattern.compile("([0-9a-f]{64}) [ *](.+)");
  private static final Duration SHORT = Duration.ofMinutes(2);

  private SumsFile() {}

  /**
   * {@code sha256sum} output ({@code <hex> <path>}, text or {@code *} binary) by base name, for the
   * backup's files only; other lines are skipped.
   */
  static Map<String, String> parse(String text) {
    Map<String, String> sums = new LinkedHashMap<>();
    for (String line : text.lines().toList()) {
      Matcher m = LINE.matcher(line);
      if (m.matches()) {
        String path = m.group(2);
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (ArchiveFormat.isArchive(name) || name.equals(PodFiles.MANIFEST)) {
          sums.put(name, m.group(1));
        }
      }
    }
    return sums;
  }

  /** One {@code <hex> <name>} line per entry, in the map's order. */
  static String format(Map<String, String> sums) {
    StringBuilder text = new StringBuilder();
    sums.forEach((name, sha) -> text.append(sha).append("  ").append(name).append('\n'));
    return text.toString();
  }

  /** The sums recorded in the pod's {@code dir}, by file name; empty when there are none. */
  static Map<String, String> readInPod(PodExec exec, String ns, String pod, String dir) {
    PodExec.Result r = exec.run(ns, pod, PodCommands.read(dir + "/" + NAME), SHORT);
    return r.ok() ? parse(r.stdout()) : Map.of();
  }

  /** Writes the sums into the pod's {@code dir}, fenced by {@code lock}. */
  static void writeInPod(
      PodExec exec, String ns, String pod, String dir, Map<String, String> sums, String lock) {
    exec.writeFile(ns, pod, dir + "/" + NAME, format(sums).getBytes(StandardCharsets.UTF_8), lock);
  }

  /** Writes the sums into the host's {@code dir}, atomically (a part file, then a rename). */
  static void writeOnHost(Path dir, Map<String, String> sums) throws IOException {
    Path tmp = dir.resolve(NAME + ".part");
    Files.writeString(tmp, format(sums));
    Files.move(
        tmp,
        dir.resolve(NAME),
        StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }

  /** The sums in the host's {@code dir}; empty when there are none. */
  static Map<String, String> readOnHost(Path dir) throws IOException {
    Path f = dir.resolve(NAME);
    return Files.isRegularFile(f) ? parse(Files.readString(f)) : Map.of();
  }
}
