package com.limepoint.opschain.dbupgrade.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.limepoint.opschain.dbupgrade.kube.Permissions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.Yaml;

/**
 * Maps each API request the activities made to the RBAC verb and resource it needs, and checks them
 * against {@code deploy/rbac.yaml}: every call allowed, and nothing granted that no call used.
 */
public final class RbacCoverage {
  private static final Set<String> used = new TreeSet<>();
  private static final Set<String> requests = new LinkedHashSet<>();

  private RbacCoverage() {}

  static synchronized void record(List<String> calls) {
    requests.addAll(calls);
    for (String call : calls) {
      used.addAll(needs(call));
    }
  }

  /**
   * Records requests as the API server's audit log names them, "verb URI" ({@link
   * com.limepoint.opschain.dbupgrade.testkit.RealCluster#activityRequests}): the verb is the one
   * RBAC authorized, so it is taken as it is.
   */
  static synchronized void recordAudited(List<String> calls) {
    requests.addAll(calls);
    for (String call : calls) {
      String verb = call.substring(0, call.indexOf(' '));
      for (String need : needs("GET " + call.substring(call.indexOf(' ') + 1))) {
        String resource = need.substring(0, need.lastIndexOf(' '));
        used.add(resource + " " + verb);
        // An exec over a websocket is a GET, audited as "get"; since Kubernetes 1.35 the API
        // server also authorizes "create" on it (AuthorizePodWebsocketUpgradeCreatePermission,
        // beta and on: kubernetes v1.37.2 pkg/registry/core/pod/rest/subresources.go:193,
        // pkg/features/kube_features.go:1370), which the audit log does not show.
        if (resource.endsWith("/pods/exec")) {
          used.add(resource + " create");
        }
      }
    }
  }

  /**
   * "group/resource verb" for one "METHOD path?query". Not needed from the Role: the
   * SelfSubjectAccessReviews (allowed to every authenticated user), the cluster-scoped reads (the
   * namespace itself, the CNPG operator's Deployment looked up in all namespaces) and the
   * operator's default namespace cnpg-system (all tolerate 403 in the code: CnpgOperator,
   * PreflightChecks).
   */
  public static Set<String> needs(String call) {
    String method = call.substring(0, call.indexOf(' '));
    String full = call.substring(call.indexOf(' ') + 1);
    String path = full.contains("?") ? full.substring(0, full.indexOf('?')) : full;
    String query = full.contains("?") ? full.substring(full.indexOf('?') + 1) : "";
    String group;
    String rest;
    if (path.startsWith("/api/v1/")) {
      group = "";
      rest = path.substring("/api/v1/".length());
    } else if (path.startsWith("/apis/")) {
      String[] p = path.substring("/apis/".length()).split("/", 3);
      group = p[0];
      rest = p.length > 2 ? p[2] : "";
    } else {
      return Set.of();
    }
    String[] seg = rest.split("/");
    if (group.equals("authorization.k8s.io")
        || seg.length < 3
        || !seg[0].equals("namespaces")
        || seg[1].equals("cnpg-system")) {
      return Set.of();
    }
    String resource = seg[2] + (seg.length > 4 ? "/" + seg[4] : "");
    boolean item = seg.length > 3;
    String prefix = group + "/" + resource + " ";
    return switch (method) {
      case "GET" ->
          resource.endsWith("/exec")
              ? Set.of(prefix + "get", prefix + "create")
              : Set.of(prefix + (item ? "get" : query.contains("watch=true") ? "watch" : "list"));
      case "POST" -> Set.of(prefix + "create");
      case "PUT" -> Set.of(prefix + "update");
      case "PATCH" -> Set.of(prefix + "patch");
      case "DELETE" -> Set.of(prefix + (item ? "delete" : "deletecollection"));
      default -> Set.of(prefix + method.toLowerCase());
    };
  }

  @SuppressWarnings("unchecked")
  public static Set<String> granted() throws IOException {
    Set<String> out = new TreeSet<>();
    for (Object doc : new Yaml().loadAll(Files.readString(Path.of("..", "deploy", "rbac.yaml")))) {
      Map<String, Object> m = (Map<String, Object>) doc;
      if (!"Role".equals(m.get("kind"))) {
        continue;
      }
      for (Map<String, Object> rule : (List<Map<String, Object>>) m.get("rules")) {
        for (String g : (List<String>) rule.get("apiGroups")) {
          for (String r : (List<String>) rule.get("resources")) {
            for (String v : (List<String>) rule.get("verbs")) {
              assertThat(v).as("no wildcard verbs").isNotEqualTo("*");
              assertThat(r).as("no wildcard or Secret resources").isNotIn("*", "secrets");
              out.add(g + "/" + r + " " + v);
            }
          }
        }
      }
    }
    return out;
  }

  static synchronized void check() throws IOException {
    Set<String> granted = granted();
    Set<String> required =
        Permissions.REQUIRED.stream()
            .map(a ->
                a.group()
                    + "/"
                    + a.resource()
                    + (a.subresource().isEmpty() ? "" : "/" + a.subresource())
                    + " "
                    + a.verb())
            .collect(Collectors.toCollection(TreeSet::new));
    System.out.println("RBAC: " + requests.size() + " distinct activity requests need " + used);
    assertThat(granted).as("every activity call is allowed by deploy/rbac.yaml").containsAll(used);
    assertThat(used)
        .as("deploy/rbac.yaml grants nothing the activities did not use")
        .containsAll(granted);
    assertThat(required).as("preflight checks exactly what the Role grants").isEqualTo(granted);
  }
}
