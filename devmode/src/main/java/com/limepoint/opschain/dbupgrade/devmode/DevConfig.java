package com.limepoint.opschain.dbupgrade.devmode;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.bind.annotation.Bindable;
import java.nio.file.Path;

/**
 * The dev mode's own settings, beside the worker's ({@code WorkerConfig}) under the same {@code
 * opschain} prefix, so the same environment variables set them ({@code OPSCHAIN_DEV_PORT}, ...).
 *
 * @param devPort the in-process Temporal server's port
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
    @Nullable String demoDir,
    @Bindable(defaultValue = "false") boolean demoSimulated,
    @Bindable(defaultValue = "true") boolean devWorker,
    @Bindable(defaultValue = "false") boolean demoChart) {

  public Path demoPath() {
    return Path.of(
        demoDir != null ? demoDir : System.getProperty("java.io.tmpdir") + "/opschain-demo");
  }
}
