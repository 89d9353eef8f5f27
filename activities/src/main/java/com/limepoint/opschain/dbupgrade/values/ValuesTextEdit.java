package com.limepoint.opschain.dbupgrade.values;

import com.limepoint.opschain.dbupgrade.activities.ValuesActivities.Kind;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * The values edit done on the user's text, not by re-dumping it: the parser's marks say where the
 * keys are, and only the lines of the keys added or removed change (a removed key takes its own
 * comment lines with it; a changed scalar changes in place). Indentation, sequence style, quoting,
 * comment spacing, blank lines, anchors, block scalars, CRLF line ends and a missing final newline
 * stay as written. What cannot be edited that way safely (several documents, a flow-style {@code
 * db}, anchors or aliases inside it) is refused with the line and a way out; and the result must
 * parse to exactly what {@link ValuesActivitiesImpl#render} computes, or it is refused too.
 */
final class ValuesTextEdit {
  private final String name;
  private final List<String> lines = new ArrayList<>();
  private final String eol;
  private final boolean finalNewline;
  private final TreeMap<Integer, List<String>> inserts = new TreeMap<>();
  private final boolean[] deleted;
  private final String[] replaced;

  private ValuesTextEdit(String original, String name) {
    this.name = name;
    this.eol = original.contains("\r\n") ? "\r\n" : "\n";
    this.finalNewline = original.endsWith("\n");
    String body = finalNewline ? original.substring(0, original.length() - eol.length()) : original;
    for (String l : body.split(eol.equals("\r\n") ? "\r\n" : "\n", -1)) {
      lines.add(l);
    }
    deleted = new boolean[lines.size()];
    replaced = new String[lines.size()];
  }

  /**
   * The edited text for one kind; {@code changes} gets the key paths (see ValuesActivitiesImpl).
   */
  static String edit(String original, Kind kind, String name, List<String> changes) {
    ValuesTextEdit e = new ValuesTextEdit(original, name);
    e.oneDocument(original);
    String expected = ValuesActivitiesImpl.render(original, kind, name, new ArrayList<>());
    MappingNode db = e.db(original);
    e.fillStorage(db, changes);
    NodeTuple recovery = find(db, "recoveryMode");
    if (kind == Kind.MIGRATION) {
      e.setRecoveryMode(db, recovery, changes);
    } else if (recovery != null) {
      e.delete(recovery);
      changes.add("- db.recoveryMode");
    }
    NodeTuple volume = find(db, "volume");
    if (kind == Kind.FINAL && volume != null) {
      e.delete(volume);
      changes.add("- db.volume");
    }
    String out = e.text();
    if (!Objects.equals(load(out), load(expected))) {
      throw refuse(name, 1, "the edit could not be made on the text safely; edit the file by hand");
    }
    return out;
  }

  private void oneDocument(String original) {
    List<Node> docs = new ArrayList<>();
    try {
      yaml().composeAll(new StringReader(original)).forEach(docs::add);
    } catch (org.yaml.snakeyaml.error.MarkedYAMLException e) {
      return; // render says where the YAML is invalid
    }
    if (docs.size() > 1) {
      throw refuse(
          docs.get(1).getStartMark().getLine() + 1,
          "a second YAML document; keep the OpsChain values in one document");
    }
  }

  private MappingNode db(String original) {
    MappingNode top = (MappingNode) yaml().compose(new StringReader(original));
    NodeTuple t = find(top, "db");
    MappingNode db = (MappingNode) t.getValueNode();
    int line = t.getKeyNode().getStartMark().getLine() + 1;
    if (db.getFlowStyle() == DumperOptions.FlowStyle.FLOW || db.getValue().isEmpty()) {
      throw refuse(line, "db is written in flow style ({...}); write it as a block mapping");
    }
    int anchored = db.getAnchor() != null ? line : anchored(db);
    if (anchored > 0) {
      throw refuse(
          anchored, "an anchor or alias inside db; write the values out where they are used");
    }
    return db;
  }

  /** db.cnpg.storage's storageClass and size, where the user has not set them. */
  private void fillStorage(MappingNode db, List<String> changes) {
    NodeTuple volumeT = find(db, "volume");
    MappingNode volume =
        volumeT != null && volumeT.getValueNode() instanceof MappingNode v ? v : null;
    String step = " ".repeat(Math.max(1, indent(db) - parentColumn(db)));
    NodeTuple cnpgT = find(db, "cnpg");
    List<String> missing = new ArrayList<>();
    MappingNode storage = null;
    if (cnpgT != null && cnpgT.getValueNode() instanceof MappingNode cnpg) {
      NodeTuple st = find(cnpg, "storage");
      if (st != null && st.getValueNode() instanceof MappingNode s) {
        storage = s;
      }
    }
    for (String key : List.of("storageClass", "size")) {
      if (storage == null || find(storage, key) == null) {
        missing.add(key);
      }
    }
    List<String> keyLines = storageLines(volume, missing, changes);
    if (missing.isEmpty()) {
      return;
    }
    String d = " ".repeat(indent(db));
    List<String> block = new ArrayList<>();
    if (cnpgT == null) {
      block.add(d + "cnpg:");
      block.add(d + step + "storage:");
      keyLines.forEach(k -> block.add(d + step + step + k));
      insertAfter(db, block);
    } else if (storage == null) {
      if (!(cnpgT.getValueNode() instanceof MappingNode cnpg) || cnpg.getValue().isEmpty()) {
        throw refuse(
            cnpgT.getKeyNode().getStartMark().getLine() + 1,
            "db.cnpg is not a block mapping; write it as one or remove it");
      }
      String c = " ".repeat(indent(cnpg));
      block.add(c + "storage:");
      keyLines.forEach(k -> block.add(c + step + k));
      insertAfter(cnpg, block);
    } else {
      String s = " ".repeat(indent(storage));
      keyLines.forEach(k -> block.add(s + k));
      insertAfter(storage, block);
    }
  }

  /** The missing storage keys' lines, each from db.volume's text or the runbook's default. */
  private List<String> storageLines(
      MappingNode volume, List<String> missing, List<String> changes) {
    List<String> keyLines = new ArrayList<>();
    for (String key : missing) {
      NodeTuple from = volume == null ? null : find(volume, key);
      String text =
          from != null && from.getValueNode() instanceof ScalarNode s
              ? source(s)
              : key.equals("size") ? "\"" + ValuesActivitiesImpl.DEFAULT_SIZE + "\"" : "null";
      keyLines.add(key + ": " + text);
      changes.add(
          "+ db.cnpg.storage."
              + key
              + ": "
              + (from != null && from.getValueNode() instanceof ScalarNode s
                  ? s.getValue() + " (from db.volume." + key + ")"
                  : (key.equals("size") ? ValuesActivitiesImpl.DEFAULT_SIZE : "null")
                      + " (the runbook's default)"));
    }
    return keyLines;
  }

  private void setRecoveryMode(MappingNode db, NodeTuple recovery, List<String> changes) {
    if (recovery == null) {
      insertAfter(db, List.of(" ".repeat(indent(db)) + "recoveryMode: true"));
      changes.add("+ db.recoveryMode: true");
      return;
    }
    if (recovery.getValueNode() instanceof ScalarNode v && v.getValue().equals("true")) {
      return;
    }
    Node v = recovery.getValueNode();
    Mark start = v.getStartMark();
    Mark end = v.getEndMark();
    if (!(v instanceof ScalarNode) || start.getLine() != end.getLine()) {
      throw refuse(start.getLine() + 1, "db.recoveryMode is not a one-line value; set it by hand");
    }
    String line = current(start.getLine());
    replaced[start.getLine()] =
        line.substring(0, start.getColumn()) + "true" + line.substring(end.getColumn());
    changes.add("~ db.recoveryMode: true");
  }

  /** Deletes a key's lines, with the comment lines just above it at its indentation. */
  private void delete(NodeTuple t) {
    int first = t.getKeyNode().getStartMark().getLine();
    int last = lastLine(t);
    int column = t.getKeyNode().getStartMark().getColumn();
    while (first > 0
        && current(first - 1).strip().startsWith("#")
        && leading(current(first - 1)) == column) {
      first--;
    }
    for (int i = first; i <= last; i++) {
      deleted[i] = true;
    }
  }

  private void insertAfter(MappingNode m, List<String> block) {
    NodeTuple last = m.getValue().get(m.getValue().size() - 1);
    inserts.computeIfAbsent(lastLine(last) + 1, k -> new ArrayList<>()).addAll(block);
  }

  private String text() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i <= lines.size(); i++) {
      out.addAll(inserts.getOrDefault(i, List.of()));
      if (i < lines.size() && !deleted[i]) {
        out.add(current(i));
      }
    }
    return String.join(eol, out) + (finalNewline ? eol : "");
  }

  private String current(int line) {
    return replaced[line] != null ? replaced[line] : lines.get(line);
  }

  /**
   * The last line of a key's block: the key's line and every line after it that is blank or
   * indented deeper than the key (YAML's block structure; a sequence's items may also stand at the
   * key's own column), up to the last non-blank one.
   */
  private int lastLine(NodeTuple t) {
    int keyLine = t.getKeyNode().getStartMark().getLine();
    int column = t.getKeyNode().getStartMark().getColumn();
    int last = keyLine;
    for (int i = keyLine + 1; i < lines.size(); i++) {
      String l = lines.get(i);
      if (l.isBlank()) {
        continue;
      }
      boolean flushItem =
          t.getValueNode() instanceof SequenceNode
              && leading(l) == column
              && l.strip().startsWith("-");
      if (leading(l) <= column && !flushItem) {
        break;
      }
      last = i;
    }
    return last;
  }

  private String source(ScalarNode s) {
    Mark a = s.getStartMark();
    Mark b = s.getEndMark();
    if (a.getLine() == b.getLine()) {
      return lines.get(a.getLine()).substring(a.getColumn(), b.getColumn());
    }
    return "\"" + s.getValue().replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static int indent(MappingNode m) {
    return m.getValue().get(0).getKeyNode().getStartMark().getColumn();
  }

  /** db's own key column: db's children indent minus it is the file's indentation step. */
  private int parentColumn(MappingNode db) {
    int firstLine = db.getValue().get(0).getKeyNode().getStartMark().getLine();
    for (int i = firstLine - 1; i >= 0; i--) {
      String l = lines.get(i);
      if (!l.isBlank() && !l.strip().startsWith("#")) {
        return leading(l);
      }
    }
    return 0;
  }

  private static int leading(String l) {
    int i = 0;
    while (i < l.length() && l.charAt(i) == ' ') {
      i++;
    }
    return i;
  }

  /**
   * The line (1-based) of the key inside {@code n} whose value is anchored or aliased (an alias is
   * the anchored node itself in the composed tree), or -1.
   */
  private static int anchored(Node n) {
    if (n instanceof MappingNode m) {
      for (NodeTuple t : m.getValue()) {
        if (t.getKeyNode().getAnchor() != null || t.getValueNode().getAnchor() != null) {
          return t.getKeyNode().getStartMark().getLine() + 1;
        }
        int inner = anchored(t.getValueNode());
        if (inner > 0) {
          return inner;
        }
      }
    } else if (n instanceof SequenceNode s) {
      for (Node c : s.getValue()) {
        if (c.getAnchor() != null) {
          return c.getStartMark().getLine() + 1;
        }
        int inner = anchored(c);
        if (inner > 0) {
          return inner;
        }
      }
    }
    return -1;
  }

  static NodeTuple find(MappingNode map, String key) {
    for (NodeTuple t : map.getValue()) {
      if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
        return t;
      }
    }
    return null;
  }

  private ApplicationFailure refuse(int line, String why) {
    return refuse(name, line, why);
  }

  private static ApplicationFailure refuse(String name, int line, String why) {
    return ApplicationFailure.newNonRetryableFailure(
        name + " line " + line + ": " + why, FailureTypes.INVALID_VALUES);
  }

  private static Object load(String text) {
    return new Yaml(new LoaderOptions()).load(text);
  }

  private static Yaml yaml() {
    LoaderOptions load = new LoaderOptions();
    load.setProcessComments(false);
    return new Yaml(load);
  }
}
