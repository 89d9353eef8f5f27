package com.limepoint.opschain.dbupgrade.backup;

import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.OpsChainFixture;
import com.limepoint.opschain.dbupgrade.testkit.RealCluster;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import com.limepoint.opschain.dbupgrade.testkit.Sandbox;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The legacy database as the backup tests need it: a real PostgreSQL 15 with a table {@code items}
 * of {@code rows} rows, behind the {@code opschain-db} Deployment's pod on the real control plane
 * ({@link RealCluster}: the pod's name is the ReplicaSet's, and the code under test runs as the
 * worker's ServiceAccount bound to deploy/rbac.yaml), and the {@code restore-from-backup} pod's
 * exec bound to local processes; all under a sandbox folder in {@code target}. Skips the test
 * locally (fails it in CI) when PostgreSQL or the control plane is missing.
 */
public record DbPodFixture(Path sandbox, RealCluster box, LocalPostgres db)
    implements AutoCloseable {
  public static final String NS = "opschain";

  /** Each row is its id and a payload of md5(id) and {@code pad} more characters. */
  public static DbPodFixture start(String prefix, int rows, int pad) throws IOException {
    Required.postgres();
    Required.tool(
        RealCluster.available(), "the Kubernetes control plane is not built (bin/ensure-kube)");
    Path sandbox = Sandbox.create(prefix);
    LocalPostgres db = LocalPostgres.init(sandbox.resolve("db/data/pgdata"), "opschain");
    db.sql("opschain", "CREATE TABLE items(id int PRIMARY KEY, payload text NOT NULL)");
    db.sql(
        "opschain",
        "INSERT INTO items SELECT g, md5(g::text) || repeat('x', "
            + pad
            + ") FROM generate_series(1, "
            + rows
            + ") g");
    RealCluster box = new RealCluster(NS);
    box.postgresFor(NS, "opschain-db", db.port());
    OpsChainFixture.deployment(box.client(), NS, "opschain-db", 1);
    box.awaitRunning(NS, "app", "opschain-db");
    box.bindExec(NS, "restore-from-backup", 0);
    // The new cluster's data volume, as CNPG makes it: the restore pod mounts it, and the
    // scheduler keeps a pod whose claim is missing or unbound Pending.
    box.dataVolume(NS, "opschain-db-1");
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
    Sandbox.delete(sandbox);
  }
}
