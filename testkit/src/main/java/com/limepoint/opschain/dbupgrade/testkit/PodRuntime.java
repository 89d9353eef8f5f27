package com.limepoint.opschain.dbupgrade.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a pod's exec runs on this machine. The pod's paths are real local paths (the request points
 * podBackupDir and pgdata into the harness sandbox). PostgreSQL client binaries resolve to the
 * Debian install, and the pod's {@code 127.0.0.1:5432} maps to the local PostgreSQL's port.
 */
record PodRuntime(String name, int postgresPort, Map<String, String> environment) {

  static final Path PG_BIN = Path.of("/usr/lib/postgresql/15/bin");

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
    if (postgresPort > 0) {
      for (int i = 0; i + 1 < out.size(); i++) {
        if (out.get(i).equals("-p") && out.get(i + 1).equals("5432")) {
          out.set(i + 1, Integer.toString(postgresPort));
        }
      }
    }
    return out;
  }
}
