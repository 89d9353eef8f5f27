package com.limepoint.opschain.dbupgrade.restore;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PostgreSQL major versions as the server and its data directory state them. From 10 on the major
 * is the first number ("15.4" is 15); before 10 it is the first two ("9.6.24" is 9.6). That is the
 * form a data directory's {@code PG_VERSION} holds, so the two compare as strings.
 */
public final class PgVersions {
  /**
   * What {@code postgres --version} prints: "postgres (PostgreSQL) 15.4", often followed by the
   * packager's build ("(Debian 15.4-1.pgdg120+1)"), and for a pre-release "17beta1" or "16devel".
   */
  private static final Pattern SERVER =
      Pattern.compile("\\(PostgreSQL\\) (\\d{1,4})(?:\\.(\\d{1,4}))?");

  /** A PG_VERSION file's content: "15", "9.6". */
  private static final Pattern MAJOR = Pattern.compile("(\\d{1,4})(?:\\.(\\d{1,4}))?");

  private PgVersions() {}

  /** The major version in {@code postgres --version} output, if it holds one. */
  public static Optional<String> serverMajor(String output) {
    if (output == null) {
      return Optional.empty();
    }
    Matcher m = SERVER.matcher(output);
    return m.find() ? Optional.of(major(m.group(1), m.group(2))) : Optional.empty();
  }

  /** The major version a PG_VERSION holds ("15", "9.6"), if it is one. */
  public static Optional<String> dataMajor(String pgVersion) {
    if (pgVersion == null) {
      return Optional.empty();
    }
    Matcher m = MAJOR.matcher(pgVersion.strip());
    return m.matches() ? Optional.of(major(m.group(1), m.group(2))) : Optional.empty();
  }

  private static String major(String first, String second) {
    int n = Integer.parseInt(first);
    return n >= 10 || second == null ? Integer.toString(n) : n + "." + second;
  }
}
