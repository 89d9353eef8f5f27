package com.limepoint.opschain.dbupgrade.kube;

import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;

/** How the activities change one field of an object: as kubectl does, with a merge patch. */
public final class Patches {
  /**
   * A JSON merge patch of just the fields given, with no resourceVersion: controllers updating the
   * object's status at the same time cannot make it conflict.
   */
  public static final PatchContext MERGE = PatchContext.of(PatchType.JSON_MERGE);

  private Patches() {}
}
