package com.limepoint.opschain.dbupgrade.helm;

import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.TemplateCommand;
import com.marcnuri.helm.UpgradeCommand;
import io.temporal.failure.ApplicationFailure;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.List;

/**
 * {@link HelmReleases} on helm-java, which bundles the real Helm as a native library. Points at the
 * worker's kubeconfig (null: in-cluster or the default). helm-java 0.0.21 has no rollback command:
 * recovering a pending release then asks for {@code helm rollback} by hand.
 */
public class HelmJavaReleases implements HelmReleases {
  private final Path kubeconfig;
  private final String kubeconfigContents;

  private static boolean loaded;

  /**
   * helm-java embeds the Go runtime, and Helm registers Go handlers for SIGTERM and SIGINT that
   * swallow them: the JVM would never run its shutdown hooks (and Kubernetes would SIGKILL the
   * worker mid-activity). So before the first Helm call the library is loaded here, and the JVM's
   * handlers are put back after it. Loading it lazily keeps it out of the worker's start (time and
   * memory) until an upgrade needs Helm.
   */
  public static synchronized void loadKeepingShutdownSignals() {
    if (loaded) {
      return;
    }
    try {
      Helm.version().call();
    } catch (RuntimeException e) {
      // Only loading the library matters here.
    }
    restoreShutdownSignals();
    loaded = true;
  }

  /**
   * Puts the JVM's SIGTERM and SIGINT handlers back (a graceful stop runs the shutdown hooks). The
   * JDK's only way to set a signal handler is {@code sun.misc.Signal} (jdk.unsupported), reached
   * here by reflection so the build compiles without internal-API warnings.
   */
  public static void restoreShutdownSignals() {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      Method number = signal.getMethod("getNumber");
      Object handler =
          Proxy.newProxyInstance(
              handlerType.getClassLoader(),
              new Class<?>[] {handlerType},
              (proxy, method, args) ->
                  switch (method.getName()) {
                    case "handle" -> {
                      System.exit(128 + (int) number.invoke(args[0]));
                      yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "exit on signal";
                  });
      Method handle = signal.getMethod("handle", signal, handlerType);
      for (String name : new String[] {"TERM", "INT"}) {
        handle.invoke(null, signal.getConstructor(String.class).newInstance(name), handler);
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot put back the JVM's SIGTERM and SIGINT handlers", e);
    }
  }

  /**
   * Runs a Helm call, then puts the JVM's handlers back: loading the library is not the only time
   * Go takes the signals (a worker that had rendered a chart on another thread ignored SIGTERM:
   * HelmSignalsIT), so every call restores them.
   */
  public static <T> T keepingShutdownSignals(java.util.function.Supplier<T> call) {
    loadKeepingShutdownSignals();
    try {
      return call.get();
    } finally {
      restoreShutdownSignals();
    }
  }

  public HelmJavaReleases(Path kubeconfig) {
    this(kubeconfig, null);
  }

  /**
   * @param context the kubeconfig context to use (the worker's OPSCHAIN_KUBE_CONTEXT), null: the
   *     kubeconfig's current one
   */
  public HelmJavaReleases(Path kubeconfig, String context) {
    this.kubeconfig = kubeconfig;
    this.kubeconfigContents =
        context == null || context.isBlank()
            ? null
            : KubeContext.contents(kubeconfig, context, System.getenv());
  }

  @Override
  public List<Revision> history(String namespace, String release) {
    return keepingShutdownSignals(() -> historyOf(namespace, release));
  }

  private List<Revision> historyOf(String namespace, String release) {
    try {
      var cmd = Helm.history(release).withNamespace(namespace);
      if (kubeconfigContents != null) {
        cmd.withKubeConfigContents(kubeconfigContents);
      } else if (kubeconfig != null) {
        cmd.withKubeConfig(kubeconfig);
      }
      return cmd.call().stream()
          .map(h ->
              new Revision(
                  h.getRevision(), h.getStatus(), chartVersion(h.getChart()), h.getDescription()))
          .toList();
    } catch (IllegalStateException e) {
      if (String.valueOf(e.getMessage()).contains("not found")) {
        return List.of();
      }
      throw e;
    }
  }

  @Override
  public Revision upgrade(HelmCall call) {
    Release r = keepingShutdownSignals(() -> apply(Helm.upgrade(call.chart()), call).call());
    return new Revision(
        Integer.parseInt(r.getRevision()),
        r.getStatus(),
        chartVersion(r.getChart()),
        call.description());
  }

  @Override
  public Revision rollback(String namespace, String release, int toRevision, String description) {
    throw noRollback(namespace, release, toRevision);
  }

  /**
   * What a rollback asks for: helm-java 0.0.21 has none, so a person runs {@code helm rollback}.
   */
  static ApplicationFailure noRollback(String namespace, String release, int toRevision) {
    return ApplicationFailure.newNonRetryableFailure(
        "release "
            + release
            + " was left pending by this workflow's earlier attempt; run `helm rollback "
            + release
            + " "
            + toRevision
            + " -n "
            + namespace
            + "` and retry (helm-java 0.0.21 has no rollback)",
        FailureTypes.RELEASE_BUSY);
  }

  @Override
  public String render(HelmCall call) {
    return keepingShutdownSignals(() -> {
      TemplateCommand t =
          Helm.template(call.chart())
              .withName(call.release())
              .withNamespace(call.namespace())
              .withVersion(call.version());
      call.valuesFiles().forEach(f -> t.withValuesFile(Path.of(f)));
      call.set().forEach(t::set);
      return t.call();
    });
  }

  /** The argument building: every field of the call onto helm-java's command. */
  UpgradeCommand apply(UpgradeCommand cmd, HelmCall call) {
    cmd.withName(call.release())
        .withNamespace(call.namespace())
        .withVersion(call.version())
        .withDescription(call.description())
        .withTimeout(call.timeoutSeconds());
    call.valuesFiles().forEach(f -> cmd.withValuesFile(Path.of(f)));
    call.set().forEach(cmd::set);
    if (call.waitReady()) {
      cmd.waitReady();
    }
    if (call.atomic()) {
      cmd.atomic();
    }
    if (kubeconfigContents != null) {
      cmd.withKubeConfigContents(kubeconfigContents);
    } else if (kubeconfig != null) {
      cmd.withKubeConfig(kubeconfig);
    }
    return cmd;
  }

  /** "opschain-2025-10-01" → "2025-10-01": the chart's version from Helm's chart column. */
  static String chartVersion(String chart) {
    if (chart == null) {
      return null;
    }
    var m =
        java.util.regex.Pattern.compile("-(v?\\d{4}-\\d{2}-\\d{2}.*|v?\\d+\\.\\d+.*)$")
            .matcher(chart);
    return m.find() ? m.group(1) : chart;
  }
}
