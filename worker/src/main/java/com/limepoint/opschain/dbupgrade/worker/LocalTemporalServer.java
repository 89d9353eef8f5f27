package com.limepoint.opschain.dbupgrade.worker;

/**
 * A Temporal server that this process itself runs and that must be up before the worker connects:
 * the dev mode's. A production worker has none.
 */
public interface LocalTemporalServer {
  /**
   * False for the Java SDK's test server: it ignores the sticky schedule-to-start timeout, so a
   * killed worker's sticky queue would hold the workflow's next task for ever ({@link
   * com.limepoint.opschain.dbupgrade.workflows.QueueOptions}).
   */
  default boolean keepsStickyQueues() {
    return true;
  }
}
