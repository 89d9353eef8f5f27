package com.limepoint.opschain.dbupgrade.starter;

import com.limepoint.opschain.dbupgrade.codec.AesGcmPayloadCodec;
import io.temporal.client.WorkflowClientOptions;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** Where Temporal is, for every command: the frontend, its namespace and the payload key. */
class TemporalOptions {
  @Option(
      names = "--target",
      defaultValue = "localhost:7233",
      description = "Temporal frontend (default ${DEFAULT-VALUE})")
  String target;

  @Option(
      names = "--temporal-namespace",
      defaultValue = "default",
      description = "Temporal namespace (default ${DEFAULT-VALUE})")
  String temporalNamespace;

  @Option(
      names = "--task-queue",
      defaultValue = "${env:OPSCHAIN_TASK_QUEUE:-opschain-db-upgrade}",
      description =
          "the workers' shared task queue, one per cluster where clusters share a Temporal"
              + " namespace (default ${DEFAULT-VALUE}; env OPSCHAIN_TASK_QUEUE)")
  String taskQueue;

  @Option(
      names = "--encryption-key-file",
      defaultValue = "${env:OPSCHAIN_ENCRYPTION_KEY_FILE}",
      split = ",",
      description =
          "AES-256 key file(s) of the worker's payload encryption; the first encrypts (env OPSCHAIN_ENCRYPTION_KEY_FILE)")
  List<Path> encryptionKeyFiles;

  /**
   * Opens the connection. A key file that is not a key is refused (exit 2) before any connection is
   * made.
   */
  Connection connect(CommandLine cmd) {
    WorkflowClientOptions.Builder options =
        WorkflowClientOptions.newBuilder().setNamespace(temporalNamespace);
    if (encryptionKeyFiles != null && !encryptionKeyFiles.isEmpty()) {
      try {
        options.setDataConverter(
            AesGcmPayloadCodec.fromKeyFiles(encryptionKeyFiles).dataConverter());
      } catch (IllegalArgumentException e) {
        throw new ParameterException(cmd, "--encryption-key-file: " + e.getMessage());
      }
    }
    return new Connection(target, options.build(), taskQueue);
  }
}
