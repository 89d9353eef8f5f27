package com.limepoint.opschain.dbupgrade.activities;

import com.limepoint.opschain.dbupgrade.model.BackupFile;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * Proof that the data moved: a census of the database (every user table's exact row count, and a
 * checksum of its rows under a size limit) at the source, in a restore rehearsal of the backup and
 * in the CNPG database, each compared with the source's. The censuses are files on the worker host
 * beside the backup; history gets totals, table names that differ and file hashes, never rows. Runs
 * on the host-specific task queue, where the backup and the censuses live.
 */
@ActivityInterface
public interface DataCheckActivities {

  /**
   * Read-only: runs the census query through {@code psql} in the database's pod (the legacy
   * deployment's ready pod, or the CNPG cluster's primary), writes {@code census-<label>.tsv} to
   * {@code hostDir} and, with a baseline, compares with {@code census-<baseline>.tsv}.
   */
  @ActivityMethod
  CensusResult census(CensusRequest request);

  /**
   * Restores the host backup once as the manual restore would, in a scratch pod of {@code image} on
   * an {@code emptyDir}: upload, extract base and WAL, start PostgreSQL, wait until it accepts
   * connections (recovery reached consistency), {@code pg_controldata}, the census compared with
   * the source's. The pod is deleted afterwards, also on failure and cancel. A backup that does not
   * restore, or restores different data, is a result that does not pass (with the reason and the
   * way out), not a failure; only failures to reach the API or the pod fail the activity.
   */
  @ActivityMethod
  RehearsalResult rehearseRestore(RehearsalRequest request);

  /** Deletes this run's scratch pod; "already gone" is success. A pod of another run is kept. */
  @ActivityMethod
  ChangeResult removeRehearsalPod(RehearsalRequest request);

  /** Where a census runs. */
  enum Source {
    /** The ready pod of the legacy db Deployment {@code name}; psql over 127.0.0.1:5432. */
    LEGACY_DEPLOYMENT,
    /** The primary pod of CNPG Cluster {@code name}; psql as postgres on the pod's own socket. */
    CNPG_CLUSTER
  }

  /**
   * @param label the census file's name: {@code census-<label>.tsv}
   * @param baseline the label to compare with, or null
   */
  record CensusRequest(
      String namespace,
      Source source,
      String name,
      String database,
      String dbUser,
      String hostDir,
      String label,
      String baseline) {}

  /**
   * @param differences one line per table that differs (its name and what differs: rows, checksum,
   *     missing), at most 20 and then how many more
   */
  record Comparison(String baseline, boolean equal, int tablesCompared, List<String> differences) {
    public Comparison {
      differences = differences == null ? List.of() : List.copyOf(differences);
    }

    public String summary() {
      return equal
          ? tablesCompared + " tables, counts and checksums equal to " + baseline
          : differences.size() + " table(s) differ from " + baseline + ": " + differences;
    }
  }

  /**
   * @param tables user tables counted
   * @param rows their rows in total
   * @param checksummed tables whose rows were also checksummed (the others are over the limit)
   * @param file the census on the worker host
   * @param sha256 of that file
   * @param comparison with the baseline, or null without one
   */
  record CensusResult(
      String label,
      String pod,
      String database,
      int tables,
      long rows,
      int checksummed,
      String file,
      String sha256,
      Comparison comparison) {

    public String summary() {
      return label
          + ": "
          + tables
          + " tables, "
          + rows
          + " rows, "
          + checksummed
          + " checksummed"
          + (comparison == null ? "" : "; " + comparison.summary());
    }
  }

  /**
   * @param podName the scratch pod; this run's marker is on it
   * @param dataOwner uid:gid PostgreSQL runs as in the pod (it refuses root)
   * @param files the verified backup files in {@code hostDir}
   * @param scratchBytes the emptyDir's size limit: the database and the archives, with a margin
   * @param timeoutSeconds how long the pod may take to start, and PostgreSQL to recover
   */
  record RehearsalRequest(
      String namespace,
      String podName,
      String image,
      String dataOwner,
      String dbUser,
      String database,
      String hostDir,
      List<BackupFile> files,
      long scratchBytes,
      long timeoutSeconds) {
    public RehearsalRequest {
      files = files == null ? List.of() : List.copyOf(files);
    }
  }

  /**
   * @param passed the backup restored, PostgreSQL came up "in production" and the census equals the
   *     source's
   * @param imageVersion what the image's {@code postgres --version} printed (first line)
   * @param clusterState pg_controldata's "Database cluster state", or null when it never ran
   * @param seconds how long the rehearsal took, pod creation to deletion
   * @param census the rehearsal's census compared with the source's, or null when it never ran
   * @param problem why it did not pass, or null
   * @param wayOut what to do about it, or null
   */
  record RehearsalResult(
      boolean passed,
      String pod,
      String imageVersion,
      String clusterState,
      long seconds,
      CensusResult census,
      String problem,
      String wayOut) {

    public String summary() {
      return passed
          ? "restored once in "
              + seconds
              + " s: "
              + (census == null ? "" : census.comparison().summary())
          : "the rehearsal did not pass: " + problem;
    }
  }
}
