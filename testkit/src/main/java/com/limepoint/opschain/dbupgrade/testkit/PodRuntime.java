package com.limepoint.opschain.dbupgrade.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a pod's exec runs on this machine. The pod's paths are real local paths (the request points
 * podBackupDir and pgdata into the harness sandbox), except under its emptyDir mounts, which map to
 * the pod's own local directories ({@code mounts}). PostgreSQL client and server binaries resolve
 * to the Debian install; the pod's {@code 127.0.0.1:5432} maps to {@code postgresPort}. A pod whose
 * securityContext names a user runs its commands as that uid:gid ({@code user}), as the container
 * runtime does.
 *
 * @param image the pod's image, or null (bound by name before the pod existed)
 */
record PodRuntime(
    String name,
    int postgresPort,
    Map<String, String> environment,
    String user,
    Map<String, Path> mounts,
    String image) {

  static final Path PG_BIN = Path.of("/usr/lib/postgresql/15/bin");

  PodRuntime(String name, int postgresPort, Map<String, String> environment) {
    this(name, postgresPort, environment, null, Map.of(), null);
  }

  /** {@code -p 5432} inside an option string (pg_ctl's -o). */
  private static final Pattern PORT_IN_OPTIONS = Pattern.compile("(^|\\s)-p 5432(?=\\s|$)");

  /**
   * The command a fenced argv runs ({@code setsid --wait flock ... <lock> <command...>}), or the
   * argv itself: what the simulated PostgreSQL looks at.
   */
  static List<String> unfenced(List<String> argv) {
    if (argv.size() > 8 && argv.get(0).equals("setsid") && argv.get(2).equals("flock")) {
      return argv.subList(8, argv.size());
    }
    return argv;
  }

  List<String> translate(List<String> argv) {
    List<String> out = new ArrayList<>(argv);
    if (out.isEmpty()) {
      return out;
    }
    // The PostgreSQL client and server programs resolve to the Debian install, also behind the
    // fenced wrapper (setsid --wait flock ... <lock> <program> ...).
    int program =
        out.size() > 8 && out.get(0).equals("setsid") && out.get(2).equals("flock") ? 8 : 0;
    String bin = out.get(program);
    if (!bin.contains("/") && Files.isExecutable(PG_BIN.resolve(bin))) {
      out.set(program, PG_BIN.resolve(bin).toString());
    }
    for (int i = 0; i < out.size(); i++) {
      String a = mapMounts(out.get(i));
      if (postgresPort > 0) {
        if (a.equals("5432") && i > 0 && out.get(i - 1).equals("-p")) {
          a = Integer.toString(postgresPort);
        }
        a = PORT_IN_OPTIONS.matcher(a).replaceAll("$1-p " + postgresPort);
      }
      out.set(i, a);
    }
    if (user != null && isRoot()) {
      String[] ids = user.split(":");
      List<String> as =
          new ArrayList<>(
              List.of("setpriv", "--reuid=" + ids[0], "--regid=" + ids[1], "--clear-groups", "--"));
      as.addAll(out);
      return as;
    }
    return out;
  }

  /** A path under an emptyDir mount, as a path of the pod's local directory for it. */
  private String mapMounts(String arg) {
    String a = arg;
    for (var m : mounts.entrySet()) {
      Pattern p = Pattern.compile("(?<![\\w./-])" + Pattern.quote(m.getKey()) + "(?=/|\\s|$)");
      a = p.matcher(a).replaceAll(Matcher.quoteReplacement(m.getValue().toString()));
    }
    return a;
  }

  private static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }
}
