package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.DataCheckActivities.Comparison;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A database's census: for every user table its exact row count and, for tables up to {@link
 * #CHECKSUM_LIMIT} bytes, a checksum of its rows. One read-only query (the per-table counts run
 * through {@code query_to_xml}, so no function is created and no DO block runs). The checksum is
 * the md5 over the md5 of each row's text in sorted order: the same rows give the same checksum in
 * any physical order, with or without a primary key, as long as both servers print the rows' types
 * alike (the same major version does; floating-point output changed in PostgreSQL 12).
 */
final class Census {
  private Census() {}

  /** Tables larger than this (heap and TOAST) are counted, not checksummed: 256 MiB. */
  static final long CHECKSUM_LIMIT = 256L << 20;

  /** The most differences a comparison lists; the rest are counted. */
  static final int MAX_LISTED = 20;

  static final String SQL =
      """
      SELECT format('%I.%I', n.nspname, c.relname),
        (xpath('/row/c/text()', query_to_xml(format(
          'SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text,
        CASE WHEN pg_relation_size(c.oid)
            + coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) <= LIMIT
          THEN (xpath('/row/m/text()', query_to_xml(format(
            'SELECT md5(coalesce(string_agg(md5(x::text), '''' ORDER BY md5(x::text)), ''''))'
            || ' AS m FROM %I.%I x', n.nspname, c.relname), false, true, '')))[1]::text
          ELSE '-' END
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r'
        AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1
      """
          .replace("LIMIT", Long.toString(CHECKSUM_LIMIT));

  /** One table: its rows and checksum ("-" when over the limit). */
  record Table(long rows, String checksum) {}

  /** Parses psql's unaligned, tab-separated output of {@link #SQL}. */
  static Map<String, Table> parse(String out) {
    Map<String, Table> tables = new LinkedHashMap<>();
    for (String line : out.lines().toList()) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split("\t", -1);
      if (f.length != 3) {
        throw new IllegalArgumentException("unexpected census line with " + f.length + " fields");
      }
      tables.put(f[0], new Table(Long.parseLong(f[1].strip()), f[2].strip()));
    }
    return tables;
  }

  /** Writes the census atomically: a temp file, then a rename over the file. */
  static Path write(Path file, String database, Map<String, Table> tables) {
    StringBuilder b = new StringBuilder("# table\trows\tchecksum (database ").append(database);
    b.append(")\n");
    tables.forEach((name, t) ->
        b.append(name)
            .append('\t')
            .append(t.rows())
            .append('\t')
            .append(t.checksum())
            .append('\n'));
    try {
      Files.createDirectories(file.getParent());
      // A temp file of its own: an earlier attempt still writing never shares it.
      Path tmp = Files.createTempFile(file.getParent(), file.getFileName() + ".", ".tmp");
      Files.writeString(tmp, b, StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Map<String, Table> read(Path file) {
    try {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      return parse(
          text.lines()
              .filter(l -> !l.startsWith("#"))
              .collect(java.util.stream.Collectors.joining("\n")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Every table of the baseline must be in {@code other} with as many rows and, where both have
   * one, the same checksum. Tables only in {@code other} are not a difference (the new version may
   * add its own).
   */
  static Comparison compare(String baseline, Map<String, Table> base, Map<String, Table> other) {
    List<String> diffs = new ArrayList<>();
    for (var e : base.entrySet()) {
      Table b = e.getValue();
      Table o = other.get(e.getKey());
      if (o == null) {
        diffs.add(e.getKey() + ": missing (" + b.rows() + " rows in " + baseline + ")");
      } else if (o.rows() != b.rows()) {
        diffs.add(e.getKey() + ": " + o.rows() + " rows, " + b.rows() + " in " + baseline);
      } else if (!b.checksum().equals("-")
          && !o.checksum().equals("-")
          && !b.checksum().equals(o.checksum())) {
        diffs.add(e.getKey() + ": same row count, different rows (checksum)");
      }
    }
    List<String> listed = new ArrayList<>(diffs.subList(0, Math.min(MAX_LISTED, diffs.size())));
    if (diffs.size() > MAX_LISTED) {
      listed.add("and " + (diffs.size() - MAX_LISTED) + " more");
    }
    return new Comparison(baseline, diffs.isEmpty(), base.size(), listed);
  }

  static long rows(Map<String, Table> tables) {
    return tables.values().stream().mapToLong(Table::rows).sum();
  }

  static int checksummed(Map<String, Table> tables) {
    return (int) tables.values().stream().filter(t -> !t.checksum().equals("-")).count();
  }
}
