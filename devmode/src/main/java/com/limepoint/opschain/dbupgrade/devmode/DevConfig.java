package com.limepoint.opschain.dbupgrade.devmode;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import java.nio.file.Path;

/**
 * The dev mode's own settings, beside the worker's ({@code WorkerConfig}) under the same {@code
 * opschain} prefix, so the same environment variables set them ({@code OPSCHAIN_DEV_PORT}, ...).
 *
 * @param devPort the dev server's gRPC port
 * @param devUiPort the dev server's Web UI port; 0 means the CLI's own default, devPort + 1000
 * @param temporalCli the {@code temporal} CLI to run the dev server with; unset means the project's
 *     own (bin/ensure-temporal installs it in .tools/venv), else one on the PATH; with none, the
 *     dev mode says so and runs the Java SDK's test server instead
 * @param demoDir where the demo keeps its database, backups and request; default {@code
 *     $TMPDIR/opschain-demo}
 * @param demoSimulated the demo simulates the database even where PostgreSQL is installed
 * @param devWorker the dev mode runs a worker of its own; without it, the dev mode is the Temporal
 *     server and the demo cluster only, for a worker in another process ({@code demoChart})
 * @param demoChart a worker of its own for the dev mode's demo cluster (with {@code kubeconfig} set
 *     to the {@code kubeconfig} the dev mode writes): Helm is the demo's chart releases, which the
 *     dev mode then keeps in the cluster
 */
@ConfigurationProperties("opschain")
public record DevConfig(
    @Bindable(defaultValue = "7233") int devPort,
    @Bindable(defaultValue = "0") int devUiPort,
    @Nullable String temporalCli,
    @Nullable String demoDir,
    @Bindable(defaultValue = "false") boolean demoSimulated,
    @Bindable(defaultValue = "true") boolean devWorker,
    @Bindable(defaultValue = "false") boolean demoChart) {

  public int uiPort() {
    return devUiPort > 0 ? devUiPort : devPort + 1000;
  }

  public Path demoPath() {
    return Path.of(
        demoDir != null ? demoDir : System.getProperty("java.io.tmpdir") + "/opschain-demo");
  }
}
