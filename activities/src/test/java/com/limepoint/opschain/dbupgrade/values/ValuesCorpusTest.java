package com.limepoint.opschain.dbupgrade.values;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.activities.ValuesActivities.Kind;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.yaml.snakeyaml.Yaml;

/**
 * Values files in different styles: the written files are byte-identical to the user's except the
 * lines of the keys added or removed (and a removed key's own comment lines), and they parse to
 * exactly what the edit means. Files the edit cannot change safely are refused with the line.
 */
class ValuesCorpusTest {
  static final Path CORPUS = Path.of("src", "test", "resources", "values-corpus");

  /** Every corpus file, and two variants: CRLF line ends, and no final newline. */
  static Stream<Arguments> files() throws IOException {
    List<Arguments> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(CORPUS)) {
      for (Path f :
          files.filter(p -> !p.getFileName().toString().startsWith("refuse")).sorted().toList()) {
        out.add(Arguments.of(f.getFileName().toString(), Files.readString(f)));
      }
    }
    String two = Files.readString(CORPUS.resolve("01-two-space.yaml"));
    out.add(Arguments.of("01-crlf", two.replace("\n", "\r\n")));
    String comments = Files.readString(CORPUS.resolve("08-comments-everywhere.yaml"));
    out.add(Arguments.of("08-no-final-newline", comments.stripTrailing()));
    return out.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("files")
  void onlyTheLinesOfTheKeysChanged(String name, String original, @TempDir Path dir)
      throws Exception {
    for (Kind kind : Kind.values()) {
      String out = write(original, kind, dir);

      assertThat(load(out))
          .as(name + " " + kind + " means what the edit means")
          .isEqualTo(load(ValuesActivitiesImpl.render(original, kind, name)));
      String eol = original.contains("\r\n") ? "\r\n" : "\n";
      Lines d = diff(original, out, eol);
      assertThat(d.added())
          .as(name + " " + kind + ": only the keys added")
          .allMatch(l -> l.matches("\\s*(cnpg|storage|storageClass|size|recoveryMode):.*"));
      assertThat(d.removed())
          .as(name + " " + kind + ": only the keys removed (and their own comments)")
          .allMatch(l -> removable(kind, l));
      assertThat(out.endsWith("\n"))
          .as("final newline as written")
          .isEqualTo(original.endsWith("\n"));
      if (eol.equals("\r\n")) {
        assertThat(out.replace("\r\n", "")).as("CRLF kept").doesNotContain("\n");
      }
    }
  }

  @Test
  void aFileAlreadyInMigrationShapeIsWrittenUnchanged(@TempDir Path dir) throws Exception {
    String original = Files.readString(CORPUS.resolve("10-recovery-true-already.yaml"));

    assertThat(write(original, Kind.MIGRATION, dir)).isEqualTo(original);
  }

  @Test
  void whatCannotBeEditedSafelyIsRefusedWithTheLineAndAWayOut(@TempDir Path dir) {
    assertRefused(dir, "refuse-multi-document.yaml", "line 5", "one document");
    assertRefused(dir, "refuse-flow-db.yaml", "line 3", "block mapping");
    assertRefused(dir, "refuse-anchor-in-db.yaml", "line 5", "anchor or alias inside db");
  }

  private static void assertRefused(Path dir, String file, String... words) {
    assertThatThrownBy(() -> write(Files.readString(CORPUS.resolve(file)), Kind.MIGRATION, dir))
        .isInstanceOfSatisfying(
            ApplicationFailure.class, e -> assertThat(e.getOriginalMessage()).contains(words));
  }

  /** A removed line belongs to db.recoveryMode, or for FINAL to db.volume's block. */
  private static boolean removable(Kind kind, String line) {
    if (line.contains("recoveryMode:")) {
      return true;
    }
    return kind == Kind.FINAL
        && (line.matches(
                "\\s+(volume|size|storageClass|accessMode|\"volume\"|\"size\"|\"storageClass\"):.*")
            || line.matches("\\s+#.*"));
  }

  private static String write(String original, Kind kind, Path dir) throws IOException {
    Path in = Files.writeString(dir.resolve("values.yaml"), original, StandardCharsets.UTF_8);
    Path out = dir.resolve("out-" + kind);
    var r =
        new ValuesActivitiesImpl()
            .prepareValues(
                new ValuesActivities.ValuesRequest(in.toString(), out.toString(), kind, false));
    return Files.readString(Path.of(r.path()), StandardCharsets.UTF_8);
  }

  private static Object load(String text) {
    return new Yaml().load(text);
  }

  record Lines(List<String> removed, List<String> added) {}

  /** A line diff by longest common subsequence: what left the original, what came in. */
  static Lines diff(String a, String b, String eol) {
    List<String> x = List.of(a.split(eol, -1));
    List<String> y = List.of(b.split(eol, -1));
    int[][] lcs = new int[x.size() + 1][y.size() + 1];
    for (int i = x.size() - 1; i >= 0; i--) {
      for (int j = y.size() - 1; j >= 0; j--) {
        lcs[i][j] =
            x.get(i).equals(y.get(j))
                ? lcs[i + 1][j + 1] + 1
                : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    List<String> removed = new ArrayList<>();
    List<String> added = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < x.size() || j < y.size()) {
      if (i < x.size() && j < y.size() && x.get(i).equals(y.get(j))) {
        i++;
        j++;
      } else if (j < y.size() && (i == x.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
        added.add(y.get(j++));
      } else {
        removed.add(x.get(i++));
      }
    }
    return new Lines(removed, added);
  }
}
