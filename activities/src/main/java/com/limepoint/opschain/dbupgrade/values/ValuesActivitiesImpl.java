package com.limepoint.opschain.dbupgrade.values;

import com.limepoint.opschain.dbupgrade.activities.ValuesActivities;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * {@link ValuesActivities}: the runbook's values.yaml edits on SnakeYAML's node tree, so the user's
 * comments and key order survive. The user's file is only read.
 */
public class ValuesActivitiesImpl implements ValuesActivities {

  static final String DEFAULT_SIZE = "10Gi";

  @Override
  public ValuesResult prepareValues(ValuesRequest r) {
    Path source = Path.of(r.valuesFile());
    String original;
    try {
      original = Files.readString(source, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw ApplicationFailure.newNonRetryableFailure(
          "values file " + source + " does not exist on this worker", FailureTypes.INVALID_VALUES);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> changes = new ArrayList<>();
    String edited = ValuesTextEdit.edit(original, r.kind(), source.toString(), changes);
    if (r.minStorageBytes() > 0) {
      requireStorageFor(edited, r.minStorageBytes(), r.importDumpBytes(), source.toString());
    }
    Path out = Path.of(r.outputDir()).resolve("values." + r.kind().name().toLowerCase() + ".yaml");
    if (!r.dryRun()) {
      write(out, edited);
    }
    return new ValuesResult(out.toString(), summary(source, out, edited, changes));
  }

  /** The edited document for one kind; pure, for tests and the dry run. */
  static String render(String original, Kind kind, String name) {
    return render(original, kind, name, new ArrayList<>());
  }

  /**
   * What the workflow records of the edit, never the file's content: each key path it added,
   * changed or removed, with the value only where the workflow computed it itself (recoveryMode,
   * and the storage class and size it copied from db.volume or the runbook's default), and the
   * written file's path, size and SHA-256. The files stay on the worker host; {@code diff -u} there
   * shows the rest.
   */
  static String summary(Path source, Path out, String edited, List<String> changes) {
    byte[] bytes = edited.getBytes(StandardCharsets.UTF_8);
    String sha;
    try {
      sha =
          java.util.HexFormat.of()
              .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    StringBuilder b = new StringBuilder();
    b.append(out.getFileName())
        .append(" (")
        .append(bytes.length)
        .append(" bytes, sha256 ")
        .append(sha)
        .append(") from ")
        .append(source.getFileName())
        .append(", keys changed:\n");
    changes.forEach(c -> b.append(c).append('\n'));
    b.append("compare on the worker host: diff -u ").append(source).append(' ').append(out);
    return b.toString();
  }

  static String render(String original, Kind kind, String name, List<String> changes) {
    Yaml yaml = yaml();
    Node root;
    try {
      root = yaml.compose(new StringReader(original));
    } catch (MarkedYAMLException e) {
      int line = e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1;
      throw ApplicationFailure.newNonRetryableFailure(
          name + " line " + line + ": not valid YAML: " + e.getProblem(),
          FailureTypes.INVALID_VALUES);
    }
    if (!(root instanceof MappingNode top)) {
      throw ApplicationFailure.newNonRetryableFailure(
          name + " line 1: the values must be a mapping with a db section",
          FailureTypes.INVALID_VALUES);
    }
    NodeTuple dbTuple = find(top, "db");
    if (dbTuple == null || !(dbTuple.getValueNode() instanceof MappingNode db)) {
      int line = dbTuple == null ? 1 : dbTuple.getKeyNode().getStartMark().getLine() + 1;
      throw ApplicationFailure.newNonRetryableFailure(
          name + " line " + line + ": there is no db section (a mapping) to migrate",
          FailureTypes.INVALID_VALUES);
    }
    MappingNode volume =
        find(db, "volume") != null && find(db, "volume").getValueNode() instanceof MappingNode v
            ? v
            : null;
    fillCnpgStorage(db, volume, changes);
    NodeTuple recovery = find(db, "recoveryMode");
    if (kind == Kind.MIGRATION) {
      boolean wasTrue =
          recovery != null
              && recovery.getValueNode() instanceof ScalarNode v
              && v.getValue().equals("true");
      put(
          db,
          "recoveryMode",
          new ScalarNode(Tag.BOOL, "true", null, null, DumperOptions.ScalarStyle.PLAIN));
      if (!wasTrue) {
        changes.add((recovery == null ? "+" : "~") + " db.recoveryMode: true");
      }
    } else if (recovery != null) {
      remove(db, "recoveryMode");
      changes.add("- db.recoveryMode");
    }
    if (kind == Kind.FINAL && find(db, "volume") != null) {
      remove(db, "volume");
      changes.add("- db.volume");
    }
    StringWriter w = new StringWriter();
    yaml.serialize(top, w);
    return w.toString();
  }

  /**
   * Refuses values whose {@code db.cnpg.storage.size} cannot hold the database, and with {@code
   * dumpBytes} its import dump beside it: CNPG's microservice import writes {@code pg_dump -Fd}
   * whole into {@code $PGDATA/dumps} on the new instance's volume and deletes it only after the
   * restore (cloudnative-pg v1.30.0 pkg/management/postgres/logicalimport/database.go:104-124,
   * microservice.go:43-89), so the volume would fill up during the import, after OpsChain was
   * stopped.
   */
  static void requireStorageFor(String edited, long dbBytes, long dumpBytes, String name) {
    Object db = yaml().<java.util.Map<String, Object>>load(edited).get("db");
    Object size =
        db instanceof java.util.Map<?, ?> d
                && d.get("cnpg") instanceof java.util.Map<?, ?> c
                && c.get("storage") instanceof java.util.Map<?, ?> st
            ? st.get("size")
            : null;
    long bytes;
    try {
      bytes =
          io.fabric8.kubernetes.api.model.Quantity.getAmountInBytes(
                  new io.fabric8.kubernetes.api.model.Quantity(String.valueOf(size)))
              .longValue();
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw ApplicationFailure.newNonRetryableFailure(
          name + ": db.cnpg.storage.size '" + size + "' is not a Kubernetes quantity such as 20Gi",
          FailureTypes.INVALID_VALUES);
    }
    long need = dbBytes + Math.max(0, dumpBytes);
    if (bytes < need) {
      throw ApplicationFailure.newNonRetryableFailure(
          name
              + ": db.cnpg.storage.size "
              + size
              + " ("
              + bytes
              + " bytes) is smaller than the database ("
              + dbBytes
              + " bytes)"
              + (dumpBytes > 0
                  ? " plus the dump CNPG's import writes beside it (about "
                      + dumpBytes
                      + " bytes, the size of the compressed base archive)"
                  : "")
              + "; set db.cnpg.storage.size (or db.volume.size) to at least "
              + ((need + (1L << 30) - 1) >> 30)
              + "Gi",
          FailureTypes.INVALID_VALUES);
    }
  }

  /**
   * db.cnpg.storage's storageClass and size, each from db.volume (or the runbook's default) where
   * the user has not set it: what the user set there is theirs.
   */
  private static void fillCnpgStorage(MappingNode db, MappingNode volume, List<String> changes) {
    MappingNode cnpg = child(db, "cnpg");
    MappingNode storage = child(cnpg, "storage");
    for (String key : List.of("storageClass", "size")) {
      if (find(storage, key) == null) {
        Node value = copyOrDefault(volume, key, key.equals("size") ? DEFAULT_SIZE : null);
        put(storage, key, value);
        boolean copied = volume != null && find(volume, key) != null;
        changes.add(
            "+ db.cnpg.storage."
                + key
                + ": "
                + ((ScalarNode) value).getValue()
                + (copied ? " (from db.volume." + key + ")" : " (the runbook's default)"));
      }
    }
  }

  private static Yaml yaml() {
    LoaderOptions load = new LoaderOptions();
    load.setProcessComments(true);
    DumperOptions dump = new DumperOptions();
    dump.setProcessComments(true);
    dump.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    dump.setIndent(2);
    dump.setIndicatorIndent(0);
    dump.setWidth(4096);
    return new Yaml(load, dump);
  }

  private static Node copyOrDefault(MappingNode volume, String key, String fallback) {
    NodeTuple t = volume == null ? null : find(volume, key);
    if (t != null && t.getValueNode() instanceof ScalarNode s) {
      return new ScalarNode(s.getTag(), s.getValue(), null, null, s.getScalarStyle());
    }
    return fallback == null
        ? new ScalarNode(Tag.NULL, "null", null, null, DumperOptions.ScalarStyle.PLAIN)
        : new ScalarNode(Tag.STR, fallback, null, null, DumperOptions.ScalarStyle.DOUBLE_QUOTED);
  }

  private static NodeTuple find(MappingNode map, String key) {
    for (NodeTuple t : map.getValue()) {
      if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
        return t;
      }
    }
    return null;
  }

  /** The mapping under {@code key}, created at the end when absent (or when not a mapping). */
  private static MappingNode child(MappingNode map, String key) {
    NodeTuple t = find(map, key);
    if (t != null && t.getValueNode() instanceof MappingNode m) {
      return m;
    }
    MappingNode m = new MappingNode(Tag.MAP, new ArrayList<>(), DumperOptions.FlowStyle.BLOCK);
    put(map, key, m);
    return m;
  }

  /** Sets {@code key} in place (keeping its position and comments) or appends it. */
  private static void put(MappingNode map, String key, Node value) {
    List<NodeTuple> tuples = map.getValue();
    for (int i = 0; i < tuples.size(); i++) {
      if (tuples.get(i).getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
        tuples.set(i, new NodeTuple(tuples.get(i).getKeyNode(), value));
        return;
      }
    }
    tuples.add(
        new NodeTuple(
            new ScalarNode(Tag.STR, key, null, null, DumperOptions.ScalarStyle.PLAIN), value));
  }

  private static void remove(MappingNode map, String key) {
    map.getValue()
        .removeIf(t -> t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key));
  }

  private static void write(Path out, String text) {
    try {
      Files.createDirectories(out.getParent());
      if (Files.exists(out) && Files.readString(out, StandardCharsets.UTF_8).equals(text)) {
        return;
      }
      Path tmp = out.resolveSibling(out.getFileName() + ".part");
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
