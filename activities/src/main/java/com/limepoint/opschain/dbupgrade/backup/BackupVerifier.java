package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.activities.BackupActivities.VerifyRequest;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The checks on the host's copy before anything destructive: every archive there, non-empty, with
 * the pod's size and SHA-256, readable by {@code gzip -t} and {@code tar -tzf}, and the base
 * archive holding {@code PG_VERSION} and {@code backup_label}. One verifier per request.
 */
final class BackupVerifier {
  private final String host;
  private final VerifyRequest r;
  private final Path dir;
  private final List<String> problems = new ArrayList<>();
  private final List<String> checks = new ArrayList<>();
  private final List<BackupFile> files = new ArrayList<>();

  BackupVerifier(String host, VerifyRequest r) {
    this.host = host;
    this.r = r;
    this.dir = Path.of(r.hostDir());
  }

  /** The evidence of a valid backup; a non-retryable BACKUP_INVALID naming every problem if not. */
  BackupEvidence verify() {
    for (String required : PodFiles.ARCHIVES) {
      if (r.expected().stream().noneMatch(f -> f.name().equals(required))) {
        problems.add(required + " is missing from the backup");
      }
    }
    try {
      for (BackupFile f : r.expected()) {
        checkFile(f);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the backup in " + host + ":" + dir + " is not valid: " + String.join("; ", problems),
          FailureTypes.BACKUP_INVALID);
    }
    checks.add(0, "every file non-empty, sizes and SHA-256 equal in the pod and on the host");
    checks.add("base.tar.gz holds PG_VERSION and backup_label");
    return new BackupEvidence(host, r.hostDir(), files, checks, true);
  }

  private void checkFile(BackupFile f) throws IOException {
    Path p = dir.resolve(f.name());
    if (!Files.isRegularFile(p)) {
      problems.add(f.name() + " is not on the host in " + dir);
      return;
    }
    long size = Files.size(p);
    String sha = HostFiles.sha256Hex(p);
    files.add(new BackupFile(f.name(), f.podBytes(), f.podSha256(), size, sha));
    if (size == 0) {
      problems.add(f.name() + " is empty");
    }
    if (f.podBytes() == null || size != f.podBytes()) {
      problems.add(
          f.name() + " is " + size + " bytes on the host but " + f.podBytes() + " in the pod");
    }
    if (!sha.equals(f.podSha256())) {
      problems.add(f.name() + " SHA-256 " + sha + " differs from the pod's " + f.podSha256());
    }
    if (f.name().endsWith(".gz")) {
      checkArchive(f.name(), p);
    }
  }

  private void checkArchive(String name, Path p) throws IOException {
    HostFiles.Result gz = HostFiles.run(List.of("gzip", "-t", p.toString()));
    if (gz.exitCode() != 0) {
      problems.add("gzip -t " + name + " failed: " + gz.output().strip());
    } else {
      checks.add("gzip -t " + name + " passed");
    }
    HostFiles.Result tar = HostFiles.run(List.of("tar", "-tzf", p.toString()));
    List<String> entries =
        tar.output().lines().map(e -> e.startsWith("./") ? e.substring(2) : e).toList();
    if (tar.exitCode() != 0 || entries.isEmpty()) {
      problems.add("tar -tzf " + name + " failed: " + tail(tar.output()));
    } else {
      checks.add("tar -tzf " + name + " lists " + entries.size() + " entries");
    }
    if (name.equals("base.tar.gz")) {
      for (String must : List.of("PG_VERSION", "backup_label")) {
        if (!entries.contains(must)) {
          problems.add("base.tar.gz does not hold " + must);
        }
      }
    }
  }

  /** The last 500 characters of a command's output, for a message. */
  private static String tail(String s) {
    String t = s.strip();
    return t.length() <= 500 ? t : "..." + t.substring(t.length() - 500);
  }
}
