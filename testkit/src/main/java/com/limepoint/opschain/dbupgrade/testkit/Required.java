package com.limepoint.opschain.dbupgrade.testkit;

/**
 * What a test needs from the machine (PostgreSQL 15, the temporal CLI, Chromium): without it the
 * test is skipped on a developer's machine, and fails in CI ({@code CI} set, as .ci/run sets it),
 * where the set-up installs everything and a skip would hide that it did not.
 */
public final class Required {
  private Required() {}

  public static void tool(boolean present, String why) {
    if (System.getenv("CI") != null) {
      org.junit.jupiter.api.Assertions.assertTrue(
          present, why + " (in CI the set-up must provide it)");
    } else {
      org.junit.jupiter.api.Assumptions.assumeTrue(present, why);
    }
  }

  /** PostgreSQL 15's binaries (initdb, pg_ctl, pg_basebackup, psql), as bin/test installs them. */
  public static void postgres() {
    tool(LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/test installs it)");
  }
}
