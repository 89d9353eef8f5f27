package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;

/**
 * A namespace as an OpsChain release before 2026-01-27 leaves it: the legacy {@code opschain-db}
 * deployment, the api, api-worker and log-aggregator deployments, a statefulset, and the CNPG
 * operator installed cluster-wide.
 */
public final class OpsChainFixture {
  public static final List<String> SERVICES =
      List.of("opschain-api", "opschain-api-worker", "opschain-log-aggregator");

  private OpsChainFixture() {}

  /**
   * @param postgresPort the local PostgreSQL behind opschain-db's pods, or 0 for none
   */
  public static void install(ClusterInABox box, String namespace, int postgresPort) {
    KubernetesClient c = box.client();
    c.namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .create();
    box.installCnpgOperator();
    box.postgresFor(namespace, "opschain-db", postgresPort);
    deployment(c, namespace, "opschain-db", 1);
    for (String s : SERVICES) {
      deployment(c, namespace, s, 1);
    }
    buildCache(c, namespace);
  }

  /**
   * The same namespace on the real control plane: the Deployments (their pods from the ReplicaSets
   * Kubernetes makes), the statefulset and the CNPG operator.
   *
   * @param postgresPort the local PostgreSQL behind opschain-db's pods, or 0 for none
   */
  public static void install(RealCluster cluster, int postgresPort) {
    KubernetesClient c = cluster.client();
    String namespace = cluster.namespace();
    cluster.installCnpgOperator();
    cluster.postgresFor(namespace, "opschain-db", postgresPort);
    deployment(c, namespace, "opschain-db", 1);
    for (String s : SERVICES) {
      deployment(c, namespace, s, 1);
    }
    buildCache(c, namespace);
  }

  /**
   * A Deployment of {@code replicas} pods labelled {@code app=<name>}, whose containers stop within
   * 3 s of being asked (their terminationGracePeriodSeconds; a scaled-down pod stays Terminating
   * that long).
   */
  public static void deployment(KubernetesClient c, String namespace, String name, int replicas) {
    c.apps()
        .deployments()
        .inNamespace(namespace)
        .resource(
            new DeploymentBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withReplicas(replicas)
                .withNewSelector()
                .addToMatchLabels("app", name)
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .addToLabels("app", name)
                .endMetadata()
                .withNewSpec()
                .withTerminationGracePeriodSeconds(3L)
                .addNewContainer()
                .withName("main")
                .withImage(name)
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
  }

  private static void buildCache(KubernetesClient c, String namespace) {
    c.apps()
        .statefulSets()
        .inNamespace(namespace)
        .resource(
            new StatefulSetBuilder()
                .withNewMetadata()
                .withName("opschain-build-cache")
                .endMetadata()
                .withNewSpec()
                .withReplicas(1)
                .withNewSelector()
                .addToMatchLabels("app", "opschain-build-cache")
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .addToLabels("app", "opschain-build-cache")
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("cache")
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
  }
}
