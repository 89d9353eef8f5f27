package com.limepoint.opschain.dbupgrade.cnpg;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The CloudNativePG operator, found by what it serves rather than by a guessed name: the {@code
 * clusters.postgresql.cnpg.io} CRD, and a running Deployment carrying the operator's label in any
 * namespace the worker may read. The preflight and the manual restore's {@code checkOperator} both
 * use this one lookup.
 *
 * <p>Both official installs label the operator's Deployment {@code
 * app.kubernetes.io/name=cloudnative-pg}, and only the name and namespace differ:
 *
 * <ul>
 *   <li>the release manifest ({@code releases/cnpg-1.29.1.yaml} line 19841 ff., built from {@code
 *       config/manager/manager.yaml} lines 13-19 with {@code namespace: cnpg-system} and {@code
 *       namePrefix: cnpg-} from {@code config/default/kustomization.yaml} lines 4 and 11, in
 *       cloudnative-pg/cloudnative-pg at v1.30.0-86): {@code cnpg-system/cnpg-controller-manager};
 *   <li>the Helm chart ({@code charts/cloudnative-pg/templates/deployment.yaml} lines 22-26 with
 *       {@code selectorLabels} in {@code _helpers.tpl} lines 59-62, in cloudnative-pg/charts, chart
 *       0.29.0): {@code <fullname>} in the release's namespace, where the fullname is {@code
 *       <release>-cloudnative-pg} ({@code _helpers.tpl} lines 24-35), so {@code
 *       cnpg-cloudnative-pg} in {@code cnpg-system} as the chart's README (line 36) installs it,
 *       with {@code app.kubernetes.io/instance: <release>} beside the name label.
 * </ul>
 *
 * The operator finds its own Deployment by the same selector ({@code
 * internal/cmd/manager/controller/controller.go} line 512, {@code OperatorDeploymentLabelSelector:
 * "app.kubernetes.io/name=cloudnative-pg"}), as does {@code kubectl cnpg report} ({@code
 * internal/cmd/plugin/report/operator_objects.go} lines 42-43). The Deployments CNPG creates for
 * its poolers are labelled {@code app.kubernetes.io/name=postgresql} instead ({@code
 * pkg/specs/pgbouncer/deployments.go} line 149, {@code AppName} in {@code
 * pkg/utils/labels_annotations.go} line 49), so they do not match.
 *
 * <p>The worker's namespaced Role ({@code deploy/rbac.yaml}) cannot list Deployments in all
 * namespaces. Then the lookup reads the default namespace and the worker's own, and when it sees no
 * operator there it says the operator is not visible rather than missing.
 */
public final class CnpgOperator {
  /** The label key and value on the operator's Deployment (see the class comment). */
  public static final String LABEL = "app.kubernetes.io/name";

  public static final String LABEL_VALUE = "cloudnative-pg";

  /** Where both the release manifest and the chart's README install it. */
  public static final String DEFAULT_NAMESPACE = "cnpg-system";

  private static final String SELECTOR = LABEL + "=" + LABEL_VALUE;

  private CnpgOperator() {}

  /** What the lookup saw. */
  public enum State {
    /** At least one operator Deployment has a ready replica. */
    RUNNING,
    /** Operator Deployments were found, none with a ready replica. */
    NOT_READY,
    /** The worker may list Deployments in every namespace, and none is the operator. */
    ABSENT,
    /** The worker may not list Deployments in every namespace, and saw none where it may. */
    NOT_VISIBLE
  }

  /**
   * @param found the operator Deployments seen, as {@code namespace/name (n ready)}
   * @param searched where the worker looked and could read: "all namespaces" or the namespaces
   * @param forbidden the namespaces the worker tried and may not read
   */
  public record Sighting(
      State state, List<String> found, List<String> searched, List<String> forbidden) {

    /** One line for the evidence or the failure message. */
    public String describe() {
      return switch (state) {
        case RUNNING -> "CNPG operator running: " + String.join(", ", found);
        case NOT_READY ->
            "the CNPG operator is not running: "
                + String.join(", ", found)
                + " (no ready replica); see its pods and events";
        case ABSENT ->
            "the CNPG operator is not installed: no Deployment labelled "
                + SELECTOR
                + " in any namespace; install the CNPG operator first";
        case NOT_VISIBLE ->
            "CNPG operator not visible to the worker's role (it may not list Deployments in all"
                + " namespaces"
                + (forbidden.isEmpty() ? "" : " nor in " + String.join(", ", forbidden))
                + (searched.isEmpty()
                    ? ""
                    : "; none labelled " + SELECTOR + " in " + String.join(", ", searched))
                + ")";
      };
    }
  }

  /** Whether the API server serves CNPG's Cluster resource (the CRD is installed). */
  public static boolean crdServed(KubernetesClient client, String namespace) {
    try {
      client
          .genericKubernetesResources(CnpgClusters.API, CnpgClusters.KIND)
          .inNamespace(namespace)
          .list();
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
      return false;
    }
  }

  /**
   * Looks for the operator's Deployment by its label in all namespaces; when that is forbidden, in
   * {@value #DEFAULT_NAMESPACE} and in {@code namespace}, the one the worker works in.
   */
  public static Sighting find(KubernetesClient client, String namespace) {
    List<Deployment> all = list(client, null);
    if (all != null) {
      return sighting(all, List.of("all namespaces"), List.of(), State.ABSENT);
    }
    Set<String> places = new LinkedHashSet<>(List.of(DEFAULT_NAMESPACE, namespace));
    List<Deployment> seen = new ArrayList<>();
    List<String> searched = new ArrayList<>();
    List<String> forbidden = new ArrayList<>();
    for (String ns : places) {
      List<Deployment> here = list(client, ns);
      if (here == null) {
        forbidden.add(ns);
      } else {
        searched.add(ns);
        seen.addAll(here);
      }
    }
    return sighting(seen, searched, forbidden, State.NOT_VISIBLE);
  }

  private static Sighting sighting(
      List<Deployment> seen, List<String> searched, List<String> forbidden, State whenNone) {
    List<String> found = seen.stream().map(CnpgOperator::describe).toList();
    State state =
        seen.stream().anyMatch(d -> ready(d) > 0)
            ? State.RUNNING
            : seen.isEmpty() ? whenNone : State.NOT_READY;
    return new Sighting(state, found, searched, forbidden);
  }

  /** The operator's Deployments by label, in one namespace or (null) all; null when forbidden. */
  private static List<Deployment> list(KubernetesClient client, String namespace) {
    try {
      var deployments = client.apps().deployments();
      return (namespace == null
              ? deployments.inAnyNamespace().withLabel(LABEL, LABEL_VALUE)
              : deployments.inNamespace(namespace).withLabel(LABEL, LABEL_VALUE))
          .list()
          .getItems();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403) {
        throw e;
      }
      return null;
    }
  }

  private static int ready(Deployment d) {
    Integer ready = d.getStatus() == null ? null : d.getStatus().getReadyReplicas();
    return ready == null ? 0 : ready;
  }

  private static String describe(Deployment d) {
    return d.getMetadata().getNamespace()
        + "/"
        + d.getMetadata().getName()
        + " ("
        + ready(d)
        + " ready)";
  }
}
