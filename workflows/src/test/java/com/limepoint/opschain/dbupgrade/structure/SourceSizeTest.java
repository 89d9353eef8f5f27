package com.limepoint.opschain.dbupgrade.structure;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The size limits the structure keeps (issue 12): no main source file over 400 lines in any module,
 * and no method over 60 lines in workflows and activities, so that each runbook step and each job
 * stays readable in one place. Methods are found by their declaration line and measured to their
 * closing brace.
 */
class SourceSizeTest {
  static final Path ROOT = Path.of("..");
  static final Pattern DECLARATION =
      Pattern.compile(
          "^\\s+(?:(?:public|private|protected|static|final|synchronized|abstract|default)\\s+)*"
              + "[\\w<>\\[\\], ?.]+\\s+(\\w+)\\([^;]*$");

  @Test
  void noMainSourceFileIsOver400Lines() throws IOException {
    List<String> tooLong = new ArrayList<>();
    for (Path f : mainSources(ROOT)) {
      int lines = Files.readAllLines(f).size();
      if (lines > 400) {
        tooLong.add(ROOT.relativize(f) + ": " + lines);
      }
    }
    assertThat(tooLong).isEmpty();
  }

  @Test
  void noMethodInWorkflowsOrActivitiesIsOver60Lines() throws IOException {
    List<String> tooLong = new ArrayList<>();
    for (String module : List.of("workflows", "activities")) {
      for (Path f : mainSources(ROOT.resolve(module))) {
        tooLong.addAll(longMethods(f, Files.readAllLines(f)));
      }
    }
    assertThat(tooLong).isEmpty();
  }

  @Test
  void theRuleFindsALongMethod() {
    List<String> body = new ArrayList<>(List.of("class A {", "  void long() {"));
    for (int i = 0; i < 60; i++) {
      body.add("    x();");
    }
    body.addAll(List.of("  }", "}"));
    assertThat(longMethods(Path.of("A.java"), body)).containsExactly("A.java: long 62 lines");
  }

  static List<String> longMethods(Path f, List<String> lines) {
    List<String> found = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      Matcher m = DECLARATION.matcher(line);
      String head = line.strip();
      if (!m.find()
          || head.startsWith("return")
          || head.startsWith("new ")
          || head.startsWith("throw")
          || line.split("\\(")[0].contains("=")) {
        continue;
      }
      int depth = 0;
      boolean opened = false;
      for (int j = i; j < lines.size(); j++) {
        String l = lines.get(j);
        depth += count(l, '{') - count(l, '}');
        opened |= l.contains("{");
        if (!opened && l.strip().endsWith(";")) {
          break;
        }
        if (opened && depth <= 0) {
          if (j - i + 1 > 60) {
            found.add(f + ": " + m.group(1) + " " + (j - i + 1) + " lines");
          }
          break;
        }
      }
    }
    return found;
  }

  private static int count(String s, char c) {
    return (int) s.chars().filter(x -> x == c).count();
  }

  private static List<Path> mainSources(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(p -> p.toString().endsWith(".java"))
          .filter(p -> p.toString().contains("/src/main/java/"))
          .filter(p -> !p.toString().contains("/.tools/") && !p.toString().contains("/target/"))
          .toList();
    }
  }
}
