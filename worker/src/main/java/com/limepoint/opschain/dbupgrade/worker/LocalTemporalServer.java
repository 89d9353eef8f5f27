package com.limepoint.opschain.dbupgrade.worker;

/**
 * A Temporal server that this process itself runs and that must be up before the worker connects:
 * the dev mode's. A production worker has none.
 */
public interface LocalTemporalServer {}
