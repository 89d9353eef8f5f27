package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.activities.HelmActivities;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Helm's Secrets driver lists a release's revisions by key, so {@code .v10} and {@code .v11} come
 * before {@code .v2} (helm pkg/storage/driver/secrets.go lists with a label selector and returns
 * the API server's order, which is by name). The activities must read the newest revision by its
 * number, whatever order the storage gives.
 */
class HelmHistoryOrderTest {

  /** Revisions 1..n in the Secrets driver's order: by key, as strings sort. */
  static List<HelmReleases.Revision> byKey(List<HelmReleases.Revision> revisions) {
    return revisions.stream()
        .sorted(java.util.Comparator.comparing(r -> "sh.helm.release.v1.opschain.v" + r.revision()))
        .toList();
  }

  static final class Listed implements HelmReleases {
    final List<Revision> revisions = new ArrayList<>();

    @Override
    public List<Revision> history(String namespace, String release) {
      return byKey(revisions);
    }

    @Override
    public Revision upgrade(HelmCall call) {
      throw new AssertionError("no upgrade expected");
    }

    @Override
    public Revision rollback(String namespace, String release, int toRevision, String d) {
      throw new AssertionError("no rollback expected");
    }

    @Override
    public String render(HelmCall call) {
      return "";
    }
  }

  @Test
  void fromRevisionTenOnTheNewestRevisionIsReadByItsNumber() {
    Listed releases = new Listed();
    for (int i = 1; i <= 11; i++) {
      releases.revisions.add(
          new HelmReleases.Revision(
              i, i == 11 ? "pending-upgrade" : "superseded", "2025-10-01", "rev " + i));
    }
    assertThat(releases.history("opschain", "opschain").get(10).revision())
        .as("the storage's own order puts v9 last")
        .isEqualTo(9);
    HelmActivities.ReleaseInfo info =
        new HelmActivitiesImpl(releases)
            .releaseStatus(new HelmActivities.ReleaseRequest("opschain", "opschain"));
    assertThat(info.revision()).isEqualTo(11);
    assertThat(info.status()).isEqualTo("pending-upgrade");
    assertThat(info.description()).isEqualTo("rev 11");
  }
}
