package com.limepoint.opschain.dbupgrade.activities;

import java.util.List;

/**
 * What a wait activity watches.
 *
 * @param names the workloads; empty means every deployment and statefulset in the namespace
 * @param timeoutSeconds how long to wait before failing
 */
public record WaitRequest(String namespace, List<String> names, long timeoutSeconds) {
  public WaitRequest {
    names = names == null ? List.of() : List.copyOf(names);
  }
}
