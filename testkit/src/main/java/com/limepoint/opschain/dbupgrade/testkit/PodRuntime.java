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

  List<String> translate(List<String> argv) {
    List<String> out = new ArrayList<>(argv);
    if (out.isEmpty()) {
      return out;
    }
    String bin = out.get(0);
    if (!bin.contains("/") && Files.isExecutable(PG_BIN.resolve(bin))) {
      out.set(0, PG_BIN.resolve(bin).toString());
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
