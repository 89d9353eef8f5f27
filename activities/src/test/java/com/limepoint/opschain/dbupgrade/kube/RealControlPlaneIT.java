package com.limepoint.opschain.dbupgrade.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.limepoint.opschain.dbupgrade.activities.ClusterActivities.PreflightRequest;
import com.limepoint.opschain.dbupgrade.testkit.ClusterInABox;
import com.limepoint.opschain.dbupgrade.testkit.ExecBroker;
import com.limepoint.opschain.dbupgrade.testkit.KubeControlPlane;
import com.limepoint.opschain.dbupgrade.testkit.LocalPostgres;
import com.limepoint.opschain.dbupgrade.testkit.Required;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.temporal.failure.ApplicationFailure;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The project's Kubernetes code against a real API server (kube-apiserver v1.37.2 with its
 * controller manager and scheduler, kwok as the kubelet: {@link KubeControlPlane}), where the mock
 * server shares our assumptions: real object names, garbage collection, the exec protocol fabric8 8
 * speaks, and RBAC enforced for the worker's ServiceAccount bound to the shipped deploy/rbac.yaml.
 */
class RealControlPlaneIT {
  static KubeControlPlane cp;

  @BeforeAll
  static void start() {
    cp = KubeControlPlane.shared();
    Required.tool(cp != null, "the Kubernetes control plane is not built (bin/ensure-kube)");
  }

  @Test
  void theApiServerIsKubernetesAndADeploymentGetsRealNamesAndIsGarbageCollected() {
    KubernetesClient admin = cp.admin();
    assertThat(admin.getKubernetesVersion().getGitVersion()).isEqualTo("v1.37.2");
    String ns = cp.namespace("names");
    deployment(admin, ns, "web");
    Pod pod = runningPod(admin, ns, "web");
    ReplicaSet rs = admin.apps().replicaSets().inNamespace(ns).list().getItems().get(0);
    assertThat(rs.getMetadata().getName()).matches("web-[a-z0-9]{8,10}");
    assertThat(pod.getMetadata().getName()).matches(rs.getMetadata().getName() + "-[a-z0-9]{5}");
    admin.apps().deployments().inNamespace(ns).withName("web").delete();
    await(
        "the ReplicaSet and pod collected",
        () ->
            admin.apps().replicaSets().inNamespace(ns).list().getItems().isEmpty()
                && admin.pods().inNamespace(ns).list().getItems().isEmpty());
  }

  @Test
  void theWorkersServiceAccountBoundToTheShippedRoleExecsHereWithLengthDelimitedStdin()
      throws Exception {
    String ns = cp.namespace("exec");
    applyShippedRole(ns, List.of());
    deployment(cp.admin(), ns, "db");
    String pod = runningPod(cp.admin(), ns, "db").getMetadata().getName();
    try (KubernetesClient worker =
        KubeControlPlane.client(cp.serviceAccountKubeconfig(ns, "opschain-db-upgrade"))) {
      PodExec exec = new PodExec(worker);
      byte[] data = new byte[5 << 20];
      new Random(7).nextBytes(data);
      // fabric8 8 speaks v4.channel.k8s.io, which cannot close stdin: the command reads its count.
      PodExec.Result r =
          exec.feed(
              ns,
              pod,
              List.of("sh", "-c", "head -c " + data.length + " | sha256sum"),
              new ByteArrayInputStream(data),
              Duration.ofSeconds(60));
      assertThat(r.exitCode()).isZero();
      assertThat(r.stdout())
          .startsWith(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)));
      PodExec.Result seven =
          exec.run(
              ns,
              pod,
              List.of("sh", "-c", "echo out; echo err >&2; exit 7"),
              Duration.ofSeconds(30));
      assertThat(seven.exitCode()).isEqualTo(7);
      assertThat(seven.stdout().strip()).isEqualTo("out");
      assertThat(seven.stderr().strip()).isEqualTo("err");
      assertThatThrownBy(() -> worker.secrets().inNamespace(ns).list())
          .isInstanceOf(KubernetesClientException.class)
          .hasMessageContaining("forbidden");
    }
  }

  @Test
  void aDatabasePodsExecReachesItsPostgresqlThroughTheBrokerWhichRecordsCutsAndStopsCommands(
      @TempDir Path tmp) throws Exception {
    Required.tool(
        LocalPostgres.available(), "PostgreSQL 15 is not installed (bin/ensure-postgres)");
    String ns = cp.namespace("db-exec");
    applyShippedRole(ns, List.of());
    deployment(cp.admin(), ns, "opschain-db");
    String pod = runningPod(cp.admin(), ns, "opschain-db").getMetadata().getName();
    ExecBroker broker = cp.broker();
    try (LocalPostgres pg = LocalPostgres.init(tmp.resolve("pgdata"), "opschain");
        KubernetesClient worker =
            KubeControlPlane.client(cp.serviceAccountKubeconfig(ns, "opschain-db-upgrade"))) {
      broker.bindDeployment(ns, "opschain-db", pg.port());
      PodExec exec = new PodExec(worker);
      // What the pod calls 127.0.0.1:5432 is this machine's PostgreSQL for that pod.
      PodExec.Result port =
          exec.run(
              ns,
              pod,
              List.of(
                  "psql", "-h", "127.0.0.1", "-p", "5432", "-U", "opschain", "-Atc", "show port"),
              Duration.ofSeconds(30));
      assertThat(port.exitCode()).as(port.stderr()).isZero();
      assertThat(port.stdout().strip()).isEqualTo(Integer.toString(pg.port()));
      assertThat(broker.podCommands())
          .filteredOn(c -> c.namespace().equals(ns))
          .singleElement()
          .satisfies(c -> {
            assertThat(c.pod()).isEqualTo(pod);
            assertThat(c.argv()).contains("-p", "5432");
            assertThat(c.exitCode()).isZero();
            assertThat(c.endedMillis()).isGreaterThanOrEqualTo(c.startedMillis());
          });

      // The known `kubectl cp` failure: stdout cut short, exit 0 reported.
      broker.cutExecStream("^head -c 1000000 /dev/zero$", 1, 1000);
      PodExec.Result cut =
          exec.run(ns, pod, List.of("head", "-c", "1000000", "/dev/zero"), Duration.ofSeconds(30));
      assertThat(cut.exitCode()).isZero();
      assertThat(cut.stdout()).hasSize(1000);

      // A command stopped (SIGSTOP) while it runs, found by the pid the wrapper reported.
      ClusterInABox.Paused paused = broker.pauseExec("^sleep 30$", Duration.ofMillis(300), 0);
      Thread runner =
          Thread.ofVirtual()
              .start(() -> {
                try {
                  exec.run(ns, pod, List.of("sleep", "30"), Duration.ofSeconds(5));
                } catch (RuntimeException expected) {
                  // the exec times out: the command was stopped
                }
              });
      paused.await(Duration.ofSeconds(10));
      List<String> states =
          ProcessHandle.allProcesses()
              .filter(h -> h.info().commandLine().orElse("").equals("/usr/bin/sleep 30"))
              .map(h -> state(h.pid()))
              .toList();
      assertThat(states).as("the state of the pod's sleep 30 (/proc/<pid>/stat)").containsOnly("T");
      new ProcessBuilder("pkill", "-KILL", "-f", "^/usr/bin/sleep 30$").start().waitFor();
      runner.join(Duration.ofSeconds(30));
    }
  }

  /** A process's state letter, from /proc/<pid>/stat (T: stopped by a signal). */
  private static String state(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch (java.io.IOException e) {
      return "gone";
    }
  }

  @Test
  void preflightFindsEveryPermissionInTheShippedRoleAndNamesTheOneARoleWithoutItLacks() {
    String ns = cp.namespace("rbac");
    applyShippedRole(ns, List.of());
    try (KubernetesClient worker =
        KubeControlPlane.client(cp.serviceAccountKubeconfig(ns, "opschain-db-upgrade"))) {
      assertThat(checks(worker, ns).permissions().line())
          .isEqualTo("all " + Permissions.REQUIRED.size() + " permissions granted in " + ns);
    }
    String less = cp.namespace("rbac-less");
    applyShippedRole(less, List.of("pods/log"));
    try (KubernetesClient worker =
        KubeControlPlane.client(cp.serviceAccountKubeconfig(less, "opschain-db-upgrade"))) {
      assertThatThrownBy(() -> checks(worker, less).permissions())
          .isInstanceOf(ApplicationFailure.class)
          .hasMessageContaining("may not, in namespace " + less + ": get pods/log.")
          .extracting(e -> ((ApplicationFailure) e).getType())
          .isEqualTo("PermissionDenied");
    }
  }

  private static PreflightChecks checks(KubernetesClient worker, String ns) {
    PodExec exec = new PodExec(worker);
    return new PreflightChecks(
        worker,
        exec,
        new DataDirectories(exec),
        new Workloads(worker),
        new PreflightRequest(
            ns,
            "opschain",
            "opschain-db",
            "opschain-db",
            List.of("opschain-api"),
            "opschain",
            "/tmp/backup"));
  }

  /**
   * deploy/rbac.yaml in {@code ns}, as the README applies it, without the rules for {@code drop}.
   */
  private static void applyShippedRole(String ns, List<String> drop) {
    KubernetesClient admin = cp.admin();
    try (var in = Files.newInputStream(Path.of("..", "deploy", "rbac.yaml"))) {
      for (HasMetadata o : admin.load(in).items()) {
        if (o instanceof Role role) {
          role.getRules().removeIf(rule -> rule.getResources().stream().anyMatch(drop::contains));
        }
        o.getMetadata().setNamespace(ns);
        admin.resource(o).inNamespace(ns).create();
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void deployment(KubernetesClient admin, String ns, String name) {
    admin
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(
            new DeploymentBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withReplicas(1)
                .withNewSelector()
                .withMatchLabels(Map.of("app", name))
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .withLabels(Map.of("app", name))
                .endMetadata()
                .withNewSpec()
                .withTerminationGracePeriodSeconds(2L)
                .addNewContainer()
                .withName(name)
                .withImage("registry.invalid/" + name + ":1")
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
  }

  private static Pod runningPod(KubernetesClient admin, String ns, String app) {
    Pod[] found = new Pod[1];
    await(
        "a Running pod of " + app,
        () -> {
          for (Pod p : admin.pods().inNamespace(ns).withLabel("app", app).list().getItems()) {
            if ("Running".equals(p.getStatus().getPhase())) {
              found[0] = p;
              return true;
            }
          }
          return false;
        });
    return found[0];
  }

  private static void await(String what, java.util.function.BooleanSupplier done) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!done.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}
