package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The legacy database as the backup tests need it: a real PostgreSQL 15 with a table {@code items}
 * of {@code rows} rows, behind the {@code opschain-db} deployment's pod in a cluster-in-a-box, and
 * the {@code restore-from-backup} pod's exec bound to local processes; all under a sandbox folder
 * in {@code target}. Skips the test when PostgreSQL is not installed.
 */
public record DbPodFixture(Path sandbox, ClusterInABox box, LocalPostgres db)
    implements AutoCloseable {
  public static final String NS = "opschain";
  static final String POD = "opschain-db-7d9f";

  /** Each row is its id and a payload of md5(id) and {@code pad} more characters. */
  public static DbPodFixture start(String prefix, int rows, int pad) throws IOException {
    com.limepoint.opschain.dbupgrade.testkit.Required.postgres();
    Path sandbox = Files.createTempDirectory(Path.of("target").toAbsolutePath(), prefix);
    LocalPostgres db = LocalPostgres.init(sandbox.resolve("db/data/pgdata"), "opschain");
    db.sql("opschain", "CREATE TABLE items(id int PRIMARY KEY, payload text NOT NULL)");
    db.sql(
        "opschain",
        "INSERT INTO items SELECT g, md5(g::text) || repeat('x', "
            + pad
            + ") FROM generate_series(1, "
            + rows
            + ") g");
    ClusterInABox box = new ClusterInABox();
    // The pod first: the deployment's controller counts it and makes no second one. And should it
    // make one anyway, that pod's exec reaches the same PostgreSQL (a census once ran on such a
    // pod, bound to no database, and found nothing on 127.0.0.1:5432).
    box.postgresFor(NS, "opschain-db", db.port());
    box.runPod(NS, POD, Map.of("app", "opschain-db"), db.port());
    OpsChainFixture.deployment(box.client(), NS, "opschain-db", 1);
    box.bindExec(NS, "restore-from-backup", 0);
    return new DbPodFixture(sandbox, box, db);
  }

  /**
   * Row count and an md5 over every row in id order, of {@code items} in {@code pg}: what a restore
   * must give back.
   */
  static String rowsAndChecksum(LocalPostgres pg) throws IOException {
    return pg.sql("opschain", "SELECT count(*) FROM items")
        + " "
        + pg.sql(
            "opschain", "SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM items");
  }

  @Override
  public void close() throws IOException {
    box.close();
    db.close();
  }
}
