package com.limepoint.opschain.dbupgrade.workflows;

import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.awaitGate;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.request;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.result;
import static com.limepoint.opschain.dbupgrade.workflows.WorkflowTestSupport.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.when;

import com.limepoint.opschain.dbupgrade.codec.AesGcmPayloadCodec;
import com.limepoint.opschain.dbupgrade.model.FailureTypes;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.Outcome;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.TestWorkflowExtension;
import io.temporal.worker.Worker;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A whole upgrade, the manual restore's child, activities, heartbeats, updates, signals and queries
 * included, with payloads sealed per workflow and plaintext refused: every path the SDK serializes
 * on gives the codec the same workflow on both ends.
 */
class EncryptedUpgradeTest {
  static final AesGcmPayloadCodec CODEC = new AesGcmPayloadCodec(List.of(key()));

  private static byte[] key() {
    byte[] k = new byte[32];
    new SecureRandom().nextBytes(k);
    return k;
  }

  @RegisterExtension
  static final TestWorkflowExtension testWorkflow =
      TestWorkflowExtension.newBuilder()
          .setWorkflowClientOptions(
              WorkflowClientOptions.newBuilder()
                  .setDataConverter(CODEC.requiringEncryption().dataConverter())
                  .build())
          .registerWorkflowImplementationTypes(
              DbUpgradeWorkflowImpl.class, ManualRestoreWorkflowImpl.class)
          .setDoNotStart(true)
          .build();

  final FakeActivities fakes = new FakeActivities();

  @Test
  void theManualRestorePathRunsWithSealedPayloadsAndTheHistoryHoldsNoPlaintext(
      TestWorkflowEnvironment env, Worker worker, WorkflowClient client) {
    when(fakes.cnpg.awaitImport(any()))
        .thenThrow(
            ApplicationFailure.newNonRetryableFailure("import failed", FailureTypes.IMPORT_FAILED));
    fakes.register(env, worker);
    DbUpgradeWorkflow wf = start(client, worker.getTaskQueue(), request());
    for (Gate g :
        List.of(
            Gate.START,
            Gate.BACKUP_VERIFIED,
            Gate.MANUAL_RESTORE,
            Gate.SERVICES_VERIFIED,
            Gate.FINALIZE)) {
      awaitGate(wf, g);
      if (g == Gate.SERVICES_VERIFIED) {
        wf.approve(new GateDecision(g.name(), "alice", "by signal"));
      } else {
        wf.approveGate(new GateDecision(g.name(), "alice", null));
      }
    }

    assertThat(result(client, WorkflowTestSupport.NAMESPACE).outcome())
        .isEqualTo(Outcome.COMPLETED);
    for (String id :
        List.of("opschain-db-upgrade-opschain", "opschain-db-upgrade-opschain-manual-restore")) {
      String json = client.fetchHistory(id).toJson(true);
      // The only plaintext payloads are the SDK's own version markers: a change id and a number.
      java.util.regex.Matcher plain =
          java.util.regex.Pattern.compile(
                  "\"encoding\": \"anNvbi9wbGFpbg[^\"]*\"\\s*},\\s*\"data\": \"([^\"]*)\"")
              .matcher(json);
      List<String> plaintext = new java.util.ArrayList<>();
      while (plain.find()) {
        // The JSON printer escapes '=' as \\u003d.
        String data = plain.group(1).replace("\\u003d", "=");
        plaintext.add(new String(java.util.Base64.getDecoder().decode(data)));
      }
      assertThat(json).contains("YmluYXJ5L2VuY3J5cHRlZA"); // binary/encrypted
      assertThat(plaintext).allMatch(p -> p.matches("\"[a-z-]+\"|-?\\d+"), "a marker's id");
    }
  }
}
