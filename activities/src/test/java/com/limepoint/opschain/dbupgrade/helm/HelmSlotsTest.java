package com.limepoint.opschain.dbupgrade.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The bound on Helm processes: never more at once than its permits; the rest wait, in order. */
class HelmSlotsTest {

  @Test
  void twelveCallsOnTwoSlotsNeverRunMoreThanTwoAtOnceAndAllFinish() throws Exception {
    HelmSlots slots = new HelmSlots(2);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(12);
    try {
      List<Future<Integer>> calls = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        int n = i;
        calls.add(
            pool.submit(() ->
                slots.run(
                    "upgrade ns-" + n + "/opschain",
                    () -> {
                      most.accumulateAndGet(running.incrementAndGet(), Math::max);
                      try {
                        Thread.sleep(150);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      } finally {
                        running.decrementAndGet();
                      }
                      return n;
                    })));
      }
      for (int i = 0; i < 12; i++) {
        assertThat(calls.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(most.get()).isEqualTo(2);
    assertThat(slots.running()).isZero();
    // Twelve calls of 150 ms on two slots: the last waited about five rounds.
    assertThat(slots.takeLargestWaitMillis()).isBetween(600L, 5_000L);
    assertThat(slots.takeLargestWaitMillis()).isZero();
  }

  @Test
  void aFailedCallGivesItsSlotBack() throws Exception {
    HelmSlots slots = new HelmSlots(1);
    assertThatThrownBy(() ->
            slots.run(
                "render ns/opschain",
                () -> {
                  throw new IllegalStateException("chart not found");
                }))
        .hasMessage("chart not found");
    CountDownLatch ran = new CountDownLatch(1);
    slots.run(
        "render ns/opschain",
        () -> {
          ran.countDown();
          return null;
        });
    assertThat(ran.getCount()).isZero();
    assertThatThrownBy(() -> new HelmSlots(0)).hasMessageContaining("at least 1");
  }
}
