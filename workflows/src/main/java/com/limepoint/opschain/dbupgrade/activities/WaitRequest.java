package com.limepoint.opschain.dbupgrade.activities;

import java.util.List;

/**
 * What a wait activity watches.
 *
 * @param names the workloads; empty means every deployment and statefulset in the namespace that
 *     belongs to {@code release} (or, with no release, every one)
 * @param timeoutSeconds how long to wait before failing
 * @param release the Helm release whose workloads are meant when {@code names} is empty: those with
 *     Helm's ownership annotations {@code meta.helm.sh/release-name} and {@code
 *     meta.helm.sh/release-namespace}. The worker's own Deployment, in the same namespace, is not
 *     one of them.
 */
public record WaitRequest(
    String namespace, List<String> names, long timeoutSeconds, String release) {
  public WaitRequest {
    names = names == null ? List.of() : List.copyOf(names);
  }

  public WaitRequest(String namespace, List<String> names, long timeoutSeconds) {
    this(namespace, names, timeoutSeconds, null);
  }
}
