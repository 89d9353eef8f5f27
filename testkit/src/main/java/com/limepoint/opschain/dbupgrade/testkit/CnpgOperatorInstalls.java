package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The CNPG operator's Deployment as its two official installs create it (the simulated controllers
 * then make it ready like any other Deployment). Where the names and labels come from:
 *
 * <ul>
 *   <li>the release manifest ({@code kubectl apply --server-side -f releases/cnpg-1.29.1.yaml}):
 *       {@code cnpg-controller-manager} in {@code cnpg-system}, labelled {@code
 *       app.kubernetes.io/name: cloudnative-pg} on the Deployment, its selector and its pods
 *       (cloudnative-pg/cloudnative-pg {@code releases/cnpg-1.29.1.yaml} lines 19841-19855, from
 *       {@code config/manager/manager.yaml} lines 13-28 and {@code
 *       config/default/kustomization.yaml} lines 4 and 11);
 *   <li>the Helm chart ({@code helm upgrade --install <release> -n <namespace>
 *       cnpg/cloudnative-pg}, cloudnative-pg/charts {@code charts/cloudnative-pg/README.md} line
 *       36): the Deployment {@code <release>-cloudnative-pg} ({@code _helpers.tpl} lines 24-35,
 *       when the release name does not contain the chart name) in the release's namespace, labelled
 *       with {@code cloudnative-pg.labels} ({@code _helpers.tpl} lines 47-54: {@code
 *       helm.sh/chart}, the selector labels {@code app.kubernetes.io/name: cloudnative-pg} and
 *       {@code app.kubernetes.io/instance: <release>}, {@code app.kubernetes.io/version}, {@code
 *       app.kubernetes.io/managed-by: Helm}), selecting its pods by the selector labels ({@code
 *       templates/deployment.yaml} lines 22-35).
 * </ul>
 */
final class CnpgOperatorInstalls {
  static final String CHART = "cloudnative-pg";

  /** The chart's {@code version} and {@code appVersion} ({@code Chart.yaml} lines 25 and 30). */
  static final String CHART_VERSION = "0.29.0";

  static final String CHART_APP_VERSION = "1.30.0";
  static final String MANIFEST_VERSION = "1.29.1";

  private CnpgOperatorInstalls() {}

  /** {@code kubectl apply} of the release manifest. */
  static void manifest(KubernetesClient client) {
    Map<String, String> labels = Map.of("app.kubernetes.io/name", CHART);
    create(client, "cnpg-system", "cnpg-controller-manager", labels, labels, MANIFEST_VERSION);
  }

  /** {@code helm install <release> cnpg/cloudnative-pg -n <namespace> --create-namespace}. */
  static void chart(KubernetesClient client, String release, String namespace) {
    Map<String, String> selector = new LinkedHashMap<>();
    selector.put("app.kubernetes.io/name", CHART);
    selector.put("app.kubernetes.io/instance", release);
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("helm.sh/chart", CHART + "-" + CHART_VERSION);
    labels.putAll(selector);
    labels.put("app.kubernetes.io/version", CHART_APP_VERSION);
    labels.put("app.kubernetes.io/managed-by", "Helm");
    String fullname = release.contains(CHART) ? release : release + "-" + CHART;
    create(client, namespace, fullname, labels, selector, CHART_APP_VERSION);
  }

  private static void create(
      KubernetesClient client,
      String namespace,
      String name,
      Map<String, String> labels,
      Map<String, String> selector,
      String version) {
    if (client.namespaces().withName(namespace).get() == null) {
      client
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .create();
    }
    client
        .apps()
        .deployments()
        .inNamespace(namespace)
        .resource(
            new DeploymentBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(labels)
                .endMetadata()
                .withNewSpec()
                .withReplicas(1)
                .withNewSelector()
                .withMatchLabels(selector)
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .withLabels(selector)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("manager")
                .withImage("ghcr.io/cloudnative-pg/cloudnative-pg:" + version)
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
  }

  /** The {@code clusters.postgresql.cnpg.io} CRD, as installing the CNPG operator creates it. */
  static void registerCrd(KubernetesClient client) {
    registerCrd(client, false);
  }

  /**
   * The CRD; {@code structural} for a real API server, which serves a v1 CRD's version only with a
   * schema: spec and status kept as given ({@code x-kubernetes-preserve-unknown-fields}), and
   * status a subresource, as CNPG's own CRD has it
   * (config/crd/bases/postgresql.cnpg.io_clusters.yaml). Created when absent.
   */
  static void registerCrd(KubernetesClient client, boolean structural) {
    String name = "clusters.postgresql.cnpg.io";
    if (structural
        && client.apiextensions().v1().customResourceDefinitions().withName(name).get() != null) {
      return;
    }
    var version =
        new io.fabric8.kubernetes.api.model.apiextensions.v1
                .CustomResourceDefinitionVersionBuilder()
            .withName("v1")
            .withServed(true)
            .withStorage(true);
    if (structural) {
      version
          .withNewSchema()
          .withNewOpenAPIV3Schema()
          .withType("object")
          .addToProperties(
              "spec",
              new io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder()
                  .withType("object")
                  .withXKubernetesPreserveUnknownFields(true)
                  .build())
          .addToProperties(
              "status",
              new io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder()
                  .withType("object")
                  .withXKubernetesPreserveUnknownFields(true)
                  .build())
          .endOpenAPIV3Schema()
          .endSchema()
          .withNewSubresources()
          .withNewStatus()
          .endStatus()
          .endSubresources();
    }
    client
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .resource(
            new io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder()
                .withNewMetadata()
                .withName("clusters.postgresql.cnpg.io")
                .endMetadata()
                .withNewSpec()
                .withGroup("postgresql.cnpg.io")
                .withScope("Namespaced")
                .withNewNames()
                .withKind("Cluster")
                .withPlural("clusters")
                .withSingular("cluster")
                .withListKind("ClusterList")
                .endNames()
                .addToVersions(version.build())
                .endSpec()
                .build())
        .create();
  }
}
