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
import java.security.DigestInputStream;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The checks on the host's copy before anything destructive: every file there, non-empty, with the
 * pod's size and SHA-256; every archive decompressing whole with its tar walked to the end (what
 * {@code gzip -t} and {@code tar -tf} check); the base archive holding {@code PG_VERSION} and
 * {@code backup_label}; and WAL segments in the backup. The archive checks come from the record the
 * copy wrote while the bytes arrived ({@link ArchiveCheck}); an archive without one (a copy resumed
 * by an older worker, a file changed since) is read here once, hashed and checked in that pass.
 */
final class BackupVerifier {
  private final String host;
  private final VerifyRequest r;
  private final Path dir;
  private final List<String> problems = new ArrayList<>();
  private final List<String> checks = new ArrayList<>();
  private final List<BackupFile> files = new ArrayList<>();
  private final List<String> reread = new ArrayList<>();
  private int walSegments;

  BackupVerifier(String host, VerifyRequest r) {
    this.host = host;
    this.r = r;
    this.dir = Path.of(r.hostDir());
  }

  /** The evidence of a valid backup; a non-retryable BACKUP_INVALID naming every problem if not. */
  BackupEvidence verify() {
    if (r.expected().stream().noneMatch(f -> isBase(f.name()))) {
      problems.add("the base archive (base.tar.gz or base.tar.zst) is missing");
    }
    try {
      for (BackupFile f : r.expected()) {
        checkFile(f);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (walSegments == 0 && problems.isEmpty()) {
      problems.add(
          "the backup holds no WAL segment (neither a pg_wal archive nor pg_wal/ in base)");
    }
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "the backup in " + host + ":" + dir + " is not valid: " + String.join("; ", problems),
          FailureTypes.BACKUP_INVALID);
    }
    checks.add(0, "every file non-empty, sizes and SHA-256 equal in the pod and on the host");
    checks.add(walSegments + " WAL segments in the backup");
    if (!reread.isEmpty()) {
      checks.add("read again here (no record of the copy's check): " + String.join(", ", reread));
    }
    return new BackupEvidence(host, r.hostDir(), files, checks, true);
  }

  static boolean isBase(String name) {
    return name.startsWith("base.tar") && ArchiveFormat.isArchive(name);
  }

  private void checkFile(BackupFile f) throws IOException {
    Path p = dir.resolve(f.name());
    if (!Files.isRegularFile(p)) {
      problems.add(f.name() + " is not on the host in " + dir);
      return;
    }
    long size = Files.size(p);
    // The copy checked each archive as it wrote it and kept the result beside it with the file's
    // SHA-256; while the file is as the copy left it, that record stands and nothing is read again.
    Optional<ArchiveCheck.Result> kept =
        ArchiveFormat.isArchive(f.name())
            ? ArchiveCheck.recorded(p, f.hostSha256())
            : Optional.empty();
    String sha;
    ArchiveCheck.Result checked = null;
    if (kept.isPresent()) {
      sha = f.hostSha256();
      checked = kept.get();
    } else if (ArchiveFormat.isArchive(f.name())) {
      DigestInputStream in =
          new DigestInputStream(
              HostFiles.readBeating(p, "checking " + f.name()), HostFiles.sha256());
      try (in) {
        checked = ArchiveCheck.of(f.name(), in);
      }
      sha = HexFormat.of().formatHex(in.getMessageDigest().digest());
      ArchiveCheck.record(p, sha, checked);
      reread.add(f.name());
    } else {
      sha = HostFiles.sha256Hex(p);
    }
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
    if (checked != null) {
      checkArchive(f.name(), checked, kept.isPresent());
    }
  }

  private void checkArchive(String name, ArchiveCheck.Result c, boolean whileCopied) {
    String how = whileCopied ? " while it was copied" : " on the host";
    String format = ArchiveFormat.ofFile(name).label;
    if (!c.ok()) {
      problems.add(name + " is not a whole " + format + " tar archive: " + c.error());
      return;
    }
    checks.add(
        name
            + ": "
            + format
            + " decompressed and "
            + c.entries()
            + " tar entries walked"
            + how
            + " ("
            + c.plainBytes()
            + " bytes as tar)");
    walSegments += c.walSegments();
    if (isBase(name)) {
      if (c.pgVersion() == null) {
        problems.add(name + " does not hold PG_VERSION");
      }
      if (!c.backupLabel()) {
        problems.add(name + " does not hold backup_label");
      }
      if (c.pgVersion() != null && c.backupLabel()) {
        checks.add(name + " holds PG_VERSION and backup_label (PostgreSQL " + c.pgVersion() + ")");
      }
    }
  }
}
