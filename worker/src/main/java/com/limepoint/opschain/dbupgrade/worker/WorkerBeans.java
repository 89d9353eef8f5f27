package com.limepoint.opschain.dbupgrade.worker;

import com.limepoint.opschain.dbupgrade.codec.AesGcmPayloadCodec;
import com.limepoint.opschain.dbupgrade.helm.HelmCliReleases;
import com.limepoint.opschain.dbupgrade.helm.HelmHome;
import com.limepoint.opschain.dbupgrade.helm.HelmReleases;
import com.limepoint.opschain.dbupgrade.helm.HelmSlots;
import com.uber.m3.tally.RootScopeBuilder;
import com.uber.m3.tally.Scope;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Requires;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.common.reporter.MicrometerClientStatsReporter;
import io.temporal.serviceclient.SimpleSslContextBuilder;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.worker.WorkerFactory;
import jakarta.inject.Singleton;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The worker's one factory: Temporal service stubs, client and worker factory with their metrics,
 * the Kubernetes client and Helm.
 */
@Factory
public class WorkerBeans {

  /**
   * The Temporal SDK's metrics (polls, task latencies, workflow and activity outcomes), reported
   * into Micronaut's Micrometer registry, which {@code /prometheus} serves.
   */
  @Singleton
  @Bean(preDestroy = "close")
  Scope temporalMetrics(MeterRegistry registry, WorkerConfig c) {
    return new RootScopeBuilder()
        .reporter(new MicrometerClientStatsReporter(registry))
        .reportEvery(com.uber.m3.util.Duration.ofMillis(c.metricsInterval().toMillis()));
  }

  /** A server this process runs itself (the dev mode's) must be up first: hence the parameter. */
  @Singleton
  @Bean(preDestroy = "shutdown")
  WorkflowServiceStubs serviceStubs(
      WorkerConfig c, Scope metrics, Optional<LocalTemporalServer> localServer) {
    WorkflowServiceStubsOptions.Builder b =
        WorkflowServiceStubsOptions.newBuilder()
            .setTarget(c.temporalTarget())
            .setMetricsScope(metrics);
    if (c.tlsCert() != null && c.tlsKey() != null) {
      try (InputStream cert = Files.newInputStream(Path.of(c.tlsCert()));
          InputStream key = Files.newInputStream(Path.of(c.tlsKey()))) {
        b.setSslContext(SimpleSslContextBuilder.forPKCS8(cert, key).build());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the mTLS certificate or key", e);
      }
    }
    if (c.apiKey() != null && !c.apiKey().isBlank()) {
      b.addApiKey(c::apiKey).setEnableHttps(true);
    }
    return WorkflowServiceStubs.newServiceStubs(b.build());
  }

  /**
   * The client of the workers and the progress signals. With {@code encryptionKeyFile} set, every
   * payload is AES-GCM encrypted and sealed for its workflow (the starter must use the same key
   * file); with {@code requireEncryption} too, plaintext payloads are refused.
   */
  @Singleton
  WorkflowClient workflowClient(WorkflowServiceStubs stubs, WorkerConfig c) {
    WorkflowClientOptions.Builder b =
        WorkflowClientOptions.newBuilder().setNamespace(c.temporalNamespace());
    if (c.encryptionKeyFile() != null && !c.encryptionKeyFile().isBlank()) {
      AesGcmPayloadCodec codec =
          AesGcmPayloadCodec.fromKeyFiles(
              java.util.Arrays.stream(c.encryptionKeyFile().split(","))
                  .map(String::strip)
                  .map(Path::of)
                  .toList());
      if (c.requireEncryption()) {
        codec = codec.requiringEncryption();
      }
      org.slf4j.LoggerFactory.getLogger(WorkerBeans.class)
          .info("payloads are encrypted with key {}", codec.encryptKeyId());
      b.setDataConverter(codec.dataConverter());
    }
    return WorkflowClient.newInstance(stubs, b.build());
  }

  @Singleton
  WorkerFactory workerFactory(WorkflowClient client) {
    return WorkerFactory.newInstance(client);
  }

  /** The real cluster: a kubeconfig (and context) when set, else in-cluster or ~/.kube/config. */
  @Singleton
  @Bean(preDestroy = "close")
  @Requires(notEnv = "dev")
  KubernetesClient kubernetesClient(WorkerConfig c) {
    if (c.kubeconfig() != null && !Files.isReadable(Path.of(c.kubeconfig()))) {
      throw new UncheckedIOException(
          new IOException("cannot read kubeconfig " + c.kubeconfig() + " (OPSCHAIN_KUBECONFIG)"));
    }
    Config config =
        c.kubeconfig() == null
            ? Config.autoConfigure(c.kubeContext())
            : Config.fromKubeconfig(c.kubeContext(), new File(c.kubeconfig()));
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /**
   * Helm: the {@code helm} binary ({@code opschain.helm}), one process per call, with the worker's
   * kubeconfig and context; see {@link HelmCliReleases}. (The dev mode's separate worker brings the
   * demo's chart releases instead: {@code opschain.demo-chart}.)
   */
  @Singleton
  @Requires(notEnv = "dev")
  @Requires(property = "opschain.demo-chart", notEquals = "true")
  HelmReleases helmReleases(WorkerConfig c) {
    if (c.helmRepositoryConfig() != null && !Files.isReadable(Path.of(c.helmRepositoryConfig()))) {
      throw new UncheckedIOException(
          new IOException(
              "cannot read Helm's repository file "
                  + c.helmRepositoryConfig()
                  + " (OPSCHAIN_HELM_REPOSITORY_CONFIG)"));
    }
    return new HelmCliReleases(
        c.helm(),
        kubeconfigPath(c),
        c.kubeContext(),
        new HelmSlots(c.helmProcessLimit()),
        new HelmHome(
            c.helmHome() == null ? null : Path.of(c.helmHome()),
            c.helmRepositoryConfig() == null ? null : Path.of(c.helmRepositoryConfig())));
  }

  private static Path kubeconfigPath(WorkerConfig c) {
    return c.kubeconfig() == null ? null : Path.of(c.kubeconfig());
  }
}
