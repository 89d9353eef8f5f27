package com.limepoint.opschain.dbupgrade.restore;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PgVersionsTest {

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "postgres (PostgreSQL) 15.4|15",
        "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)|15",
        "postgres (PostgreSQL) 17.5 (Debian 17.5-1.pgdg120+1)|17",
        "postgres (PostgreSQL) 17beta1|17",
        "postgres (PostgreSQL) 16devel|16",
        "postgres (PostgreSQL) 9.6.24|9.6",
        "postgres (PostgreSQL) 10.23|10"
      })
  void theServersMajorIsTheFirstNumberFrom10OnAndTheFirstTwoBefore(String out, String major) {
    assertThat(PgVersions.serverMajor(out)).contains(major);
  }

  @Test
  void outputWithoutAVersionHasNoMajor() {
    assertThat(PgVersions.serverMajor("sh: postgres: not found")).isEmpty();
    assertThat(PgVersions.serverMajor("")).isEmpty();
    assertThat(PgVersions.serverMajor(null)).isEmpty();
  }

  @Test
  void pgVersionFilesHoldTheMajor() {
    assertThat(PgVersions.dataMajor("15\n")).contains("15");
    assertThat(PgVersions.dataMajor("9.6")).contains("9.6");
    assertThat(PgVersions.dataMajor("fifteen")).isEmpty();
    assertThat(PgVersions.dataMajor("15.4.1")).isEmpty();
    assertThat(PgVersions.dataMajor(null)).isEmpty();
  }
}
