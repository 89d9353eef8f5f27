package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkerClassPathTest {

  /**
   * The worker's test class path is its runtime class path plus JUnit and AssertJ: the harness, the
   * test server, the mock API server and the dev mode must not be on it (they belong to the devmode
   * module). The image module checks the image's own jars the same way.
   */
  @Test
  void theProductionWorkerCarriesNoTestHarnessTestServerOrDevMode() {
    List<String> entries =
        Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
            .map(e -> e.substring(e.lastIndexOf(File.separatorChar) + 1))
            .toList();

    assertThat(entries).anyMatch(e -> e.startsWith("temporal-sdk-"));
    assertThat(entries)
        .noneMatch(e -> e.startsWith("opschain-db-upgrade-testkit"))
        .noneMatch(e -> e.startsWith("opschain-db-upgrade-starter"))
        .noneMatch(e -> e.startsWith("opschain-db-upgrade-devmode"))
        .noneMatch(e -> e.startsWith("temporal-testing"))
        .noneMatch(e -> e.startsWith("temporal-test-server"))
        .noneMatch(e -> e.startsWith("kubernetes-server-mock"))
        .noneMatch(e -> e.startsWith("vertx-"));
  }
}
