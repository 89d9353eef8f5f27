package com.limepoint.opschain.dbupgrade;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.workflows.RunbookStep;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps docs/development.md's step table ("Where each runbook step lives") true: each row is a
 * runbook step, the workflow method that runs it, the activity method it calls, and the builder of
 * its command. Read from the sources, so a renamed method, a step moved to another class or an
 * extra layer between the workflow and its activity fails here.
 */
class StepTableTest {

  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Pattern ROW =
      Pattern.compile(
          "^\\| `([a-zA-Z]+)` \\| `([A-Za-z]+)\\.([a-zA-Z]+)` \\| `([A-Za-z]+)\\.([a-zA-Z]+)` \\|"
              + " (?:`([A-Za-z]+)\\.([a-zA-Z]+)`|\\(.*\\)) \\|$");

  /** Where the two workflows and the activity implementations live. */
  private static final Path WORKFLOWS =
      ROOT.resolve("workflows/src/main/java/com/limepoint/opschain/dbupgrade/workflows");

  private static final Path ACTIVITY_INTERFACES =
      ROOT.resolve("workflows/src/main/java/com/limepoint/opschain/dbupgrade/activities");

  private static final Path ACTIVITY_IMPLS =
      ROOT.resolve("activities/src/main/java/com/limepoint/opschain/dbupgrade");

  record Row(
      String step,
      String workflow,
      String workflowMethod,
      String activity,
      String activityMethod,
      String builder,
      String builderMethod) {}

  @Test
  void everyRunbookStepIsInTheTableOnceAndEveryRowHoldsInTheCode() {
    List<Row> rows = rows();
    List<String> steps =
        Arrays.stream(RunbookStep.values())
            .filter(s -> s.activity() != null)
            .map(RunbookStep::id)
            .toList();
    assertThat(rows).extracting(Row::step).containsExactlyElementsOf(steps);
    for (Row row : rows) {
      check(row);
    }
  }

  @Test
  void aRowThatNamesTheWrongActivityOrAMissingBuilderIsCaught() {
    Row right =
        new Row(
            "stopOpsChain",
            "DbUpgradeWorkflowImpl",
            "stopOpsChain",
            "HelmActivities",
            "upgrade",
            "HelmCall",
            "of");
    check(right);
    assertProblem(
        new Row(
            "stopOpsChain",
            "DbUpgradeWorkflowImpl",
            "stopOpsChain",
            "ClusterActivities",
            "scaleDeployment",
            "HelmCall",
            "of"),
        "RunbookStep names Helm.upgrade");
    assertProblem(
        new Row(
            "stopOpsChain",
            "DbUpgradeWorkflowImpl",
            "scaleDbUp",
            "HelmActivities",
            "upgrade",
            "HelmCall",
            "of"),
        "does not run step stopOpsChain");
    assertProblem(
        new Row(
            "stopOpsChain",
            "DbUpgradeWorkflowImpl",
            "stopOpsChain",
            "HelmActivities",
            "upgrade",
            "HelmCall",
            "ofNothing"),
        "HelmCall.ofNothing is not declared");
  }

  private static void assertProblem(Row row, String problem) {
    try {
      check(row);
    } catch (AssertionError e) {
      assertThat(e.getMessage()).contains(problem);
      return;
    }
    throw new AssertionError("no problem found in " + row);
  }

  /**
   * One row: (1) the workflow method is a method of the workflow class that names the step (or is
   * called with it, as {@code checkParity(CHECK_PARITY, ...)}); it, or one helper of the same class
   * it calls, calls the activity method (so: story, step method, at most one helper, the interface,
   * the implementation: four hops, three files); (2) the activity method is the one RunbookStep
   * names, declared in its interface and implemented in one class of the activities module; (3) the
   * builder is declared and called in the activities module.
   */
  private static void check(Row row) {
    RunbookStep step =
        Arrays.stream(RunbookStep.values())
            .filter(s -> s.id().equals(row.step()))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no runbook step " + row.step()));
    String group = row.activity().replace("Activities", "");
    assertThat(row.activity().endsWith("Activities") ? group + "." + row.activityMethod() : "")
        .as("%s: RunbookStep names %s", row.step(), step.activity())
        .isEqualTo(step.activity().startsWith("ManualRestoreWorkflow") ? "" : step.activity());

    String workflow = read(WORKFLOWS.resolve(row.workflow() + ".java"));
    String body = method(workflow, row.workflowMethod(), true);
    assertThat(body).as("%s.%s is declared", row.workflow(), row.workflowMethod()).isNotNull();
    String constant = step.name();
    String call = "." + row.activityMethod() + "(";
    List<String> reach = new ArrayList<>(List.of(body));
    for (String helper : calledHelpers(workflow, body)) {
      reach.add(method(workflow, helper, true));
    }
    boolean passedTheStep = workflow.contains(row.workflowMethod() + "(" + constant);
    assertThat(passedTheStep || reach.stream().anyMatch(b -> b.contains(constant)))
        .as(
            "%s.%s does not run step %s (%s is not in it or its helpers)",
            row.workflow(), row.workflowMethod(), row.step(), constant)
        .isTrue();
    assertThat(reach.stream().anyMatch(b -> b.contains(call)))
        .as(
            "%s.%s calls %s within one helper of its class",
            row.workflow(), row.workflowMethod(), call)
        .isTrue();

    if (!row.activity().endsWith("Activities")) {
      return; // the manual restore is a child workflow: its steps are the rows below it
    }
    String iface = read(ACTIVITY_INTERFACES.resolve(row.activity() + ".java"));
    assertThat(method(iface, row.activityMethod(), false))
        .as("%s declares %s", row.activity(), row.activityMethod())
        .isNotNull();
    Path impl =
        sources(ACTIVITY_IMPLS)
            .filter(p -> read(p).contains("implements " + row.activity()))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no implementation of " + row.activity()));
    assertThat(method(read(impl), row.activityMethod(), false))
        .as("%s implements %s", impl.getFileName(), row.activityMethod())
        .isNotNull();

    Optional<Path> builderFile =
        sources(ACTIVITY_IMPLS).filter(p -> p.endsWith(row.builder() + ".java")).findFirst();
    assertThat(builderFile).as("%s exists", row.builder()).isPresent();
    assertThat(method(read(builderFile.get()), row.builderMethod(), true))
        .as("%s.%s is not declared", row.builder(), row.builderMethod())
        .isNotNull();
    String qualified = row.builder() + "." + row.builderMethod() + "(";
    boolean called =
        sources(ACTIVITY_IMPLS)
            .anyMatch(p -> {
              String s = read(p);
              return s.contains(qualified)
                  || (!p.endsWith(row.builder() + ".java")
                      && Pattern.compile("\\b" + row.builder() + "\\b").matcher(s).find()
                      && s.contains("." + row.builderMethod() + "("))
                  || (p.endsWith(row.builder() + ".java")
                      && Pattern.compile("[^.\\w]" + row.builderMethod() + "\\(")
                          .matcher(s.replace(declaration(s, row.builderMethod()), ""))
                          .find())
                  || p.equals(impl) && row.builder().equals(nameOf(impl));
            });
    assertThat(called).as("%s.%s is called", row.builder(), row.builderMethod()).isTrue();
  }

  private static String nameOf(Path p) {
    String f = p.getFileName().toString();
    return f.substring(0, f.length() - ".java".length());
  }

  /** The private methods of the same class that {@code body} calls: {@code name(}. */
  private static List<String> calledHelpers(String source, String body) {
    List<String> helpers = new ArrayList<>();
    Matcher m = Pattern.compile("(?<![.\\w])([a-z][a-zA-Z]*)\\(").matcher(body);
    while (m.find()) {
      String name = m.group(1);
      if (!helpers.contains(name) && method(source, name, true) != null) {
        helpers.add(name);
      }
    }
    return helpers;
  }

  /** The declaration line of {@code name} in {@code source}, or "" when there is none. */
  private static String declaration(String source, String name) {
    Matcher m = declared(name).matcher(source);
    return m.find() ? m.group() : "";
  }

  private static Pattern declared(String name) {
    return Pattern.compile(
        "\\n  (?:(?:public|private|static|final|@Override)\\s+)*[\\w<>\\[\\].,? ]+\\s"
            + Pattern.quote(name)
            + "\\(");
  }

  /**
   * The text of the first method called {@code name} in {@code source}, from its declaration to its
   * closing brace, or null; {@code withBody} false accepts an interface's declaration.
   */
  private static String method(String source, String name, boolean withBody) {
    Matcher m = declared(name).matcher(source);
    while (m.find()) {
      int open = source.indexOf('{', m.end());
      int semicolon = source.indexOf(';', m.end());
      if (semicolon >= 0 && (open < 0 || semicolon < open)) {
        if (!withBody) {
          return source.substring(m.start(), semicolon);
        }
        continue;
      }
      int depth = 0;
      for (int i = open; i < source.length(); i++) {
        char c = source.charAt(i);
        if (c == '{') {
          depth++;
        } else if (c == '}' && --depth == 0) {
          return source.substring(m.start(), i + 1);
        }
      }
    }
    return null;
  }

  private static List<Row> rows() {
    String doc = read(ROOT.resolve("docs/development.md"));
    int start =
        doc.indexOf("| runbook step | workflow method | activity method | command builder |");
    assertThat(start).as("the step table in docs/development.md").isPositive();
    List<Row> rows = new ArrayList<>();
    Map<String, String> seen = new LinkedHashMap<>();
    for (String line : doc.substring(start).lines().skip(2).toList()) {
      if (!line.startsWith("|")) {
        break;
      }
      Matcher m = ROW.matcher(line);
      assertThat(m.matches()).as("a row of the step table: %s", line).isTrue();
      assertThat(seen.put(m.group(1), line)).as("%s listed twice", m.group(1)).isNull();
      rows.add(
          new Row(
              m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6), m.group(7)));
    }
    return rows;
  }

  private static Stream<Path> sources(Path dir) {
    try {
      return Files.walk(dir).filter(p -> p.toString().endsWith(".java")).toList().stream();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
