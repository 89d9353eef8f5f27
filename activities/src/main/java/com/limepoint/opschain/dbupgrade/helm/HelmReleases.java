package com.limepoint.opschain.dbupgrade.helm;

import java.util.List;

/**
 * The small port the Helm activities stand on. In production it is the {@code helm} binary ({@link
 * HelmCliReleases}); on the cluster-in-a-box the harness renders the chart with the same binary's
 * {@code helm template} and applies the objects through fabric8, keeping revisions itself (Helm's
 * own storage needs answers the mock API server cannot give).
 */
public interface HelmReleases {

  /** One revision of a release, oldest first in {@link #history}. */
  record Revision(int revision, String status, String chartVersion, String description) {}

  /** The release's revisions, oldest first; empty when it is not installed. */
  List<Revision> history(String namespace, String release);

  /** Runs the upgrade (the call's wait, timeout and atomic rollback included). */
  Revision upgrade(HelmCall call);

  /** Rolls back to {@code toRevision}, recording {@code description}. */
  Revision rollback(String namespace, String release, int toRevision, String description);

  /** Renders the chart with the call's values, changing nothing; the manifest. */
  String render(HelmCall call);

  /**
   * Asks the running {@link #upgrade} of {@code call} to stop (a cancelled activity); the upgrade
   * then returns or fails as Helm ends it. Implementations that cannot stop Helm do nothing.
   */
  default void interrupt(HelmCall call) {}

  /**
   * True when the release's newest revision is pending and carries {@link HelmCall#RUN_LABEL}
   * {@code runLabel}: made by an attempt of that run that did not finish. Implementations without
   * release labels answer false (the description marker is checked besides).
   */
  default boolean pendingFrom(String namespace, String release, String runLabel) {
    return false;
  }
}
