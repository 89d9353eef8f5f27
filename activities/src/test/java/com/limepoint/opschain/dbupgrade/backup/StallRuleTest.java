package com.limepoint.opschain.dbupgrade.backup;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When the copy out and the upload give up on a transfer that moves no bytes. */
class StallRuleTest {

  @Test
  void givesUpOnTheFifthAttemptInARowWithoutProgress() {
    StallRule rule = new StallRule();

    for (int attempt = 1; attempt <= 4; attempt++) {
      assertThat(rule.giveUp(100, 100)).as("attempt %d", attempt).isFalse();
    }
    assertThat(rule.giveUp(100, 100)).isTrue();
  }

  @Test
  void anyProgressStartsTheCountAgain() {
    StallRule rule = new StallRule();
    for (int i = 0; i < 4; i++) {
      rule.giveUp(100, 100);
    }

    assertThat(rule.giveUp(100, 101)).isFalse();
    for (int attempt = 1; attempt <= 4; attempt++) {
      assertThat(rule.giveUp(101, 101)).as("attempt %d after progress", attempt).isFalse();
    }
    assertThat(rule.giveUp(101, 101)).isTrue();
  }

  @Test
  void attemptsThatMoveBytesNeverGiveUp() {
    StallRule rule = new StallRule();

    for (long at = 0; at < 100; at++) {
      assertThat(rule.giveUp(at, at + 1)).isFalse();
    }
  }

  @Test
  void keepsGivingUpWhileStillStalled() {
    StallRule rule = new StallRule();
    for (int i = 0; i < 5; i++) {
      rule.giveUp(7, 7);
    }

    assertThat(rule.giveUp(7, 7)).isTrue();
  }
}
