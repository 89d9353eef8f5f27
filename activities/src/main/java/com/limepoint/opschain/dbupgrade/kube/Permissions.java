package com.limepoint.opschain.dbupgrade.kube;

import java.util.List;

/**
 * Every verb on every namespaced resource the Kubernetes activities use: what preflight asks
 * SelfSubjectAccessReviews about, and exactly what {@code deploy/rbac.yaml}'s Role grants (a test
 * checks both against the calls the activities make). Helm's own needs (its release Secrets and the
 * chart's objects) are not here: they depend on the OpsChain chart.
 */
public final class Permissions {
  private Permissions() {}

  /** One verb on one resource (group "" is the core API). */
  public record Access(String group, String resource, String subresource, String verb) {
    public String describe() {
      return verb
          + " "
          + (group.isEmpty() ? "" : group + "/")
          + resource
          + (subresource.isEmpty() ? "" : "/" + subresource);
    }
  }

  public static final List<Access> REQUIRED =
      List.of(
          new Access("apps", "deployments", "", "get"),
          new Access("apps", "deployments", "", "list"),
          new Access("apps", "deployments", "", "watch"),
          new Access("apps", "deployments", "", "patch"),
          new Access("apps", "statefulsets", "", "list"),
          new Access("apps", "statefulsets", "", "watch"),
          new Access("", "pods", "", "get"),
          new Access("", "pods", "", "list"),
          new Access("", "pods", "", "watch"),
          new Access("", "pods", "", "create"),
          new Access("", "pods", "", "delete"),
          new Access("", "pods", "exec", "create"),
          new Access("", "pods", "exec", "get"),
          new Access("", "pods", "log", "get"),
          new Access("", "persistentvolumeclaims", "", "get"),
          new Access("batch", "jobs", "", "get"),
          new Access("postgresql.cnpg.io", "clusters", "", "get"),
          new Access("postgresql.cnpg.io", "clusters", "", "list"),
          new Access("postgresql.cnpg.io", "clusters", "", "watch"),
          new Access("postgresql.cnpg.io", "clusters", "", "patch"),
          new Access("postgresql.cnpg.io", "clusters", "", "delete"));
}
