package com.limepoint.opschain.dbupgrade.starter;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Timestamp;
import com.limepoint.opschain.dbupgrade.model.BackupEvidence;
import com.limepoint.opschain.dbupgrade.model.BackupFile;
import com.limepoint.opschain.dbupgrade.model.Gate;
import com.limepoint.opschain.dbupgrade.model.GateDecision;
import com.limepoint.opschain.dbupgrade.model.GateEvidence;
import com.limepoint.opschain.dbupgrade.model.OpenGate;
import com.limepoint.opschain.dbupgrade.model.Phase;
import com.limepoint.opschain.dbupgrade.model.UpgradeStatus;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.history.v1.ActivityTaskCompletedEventAttributes;
import io.temporal.api.history.v1.ActivityTaskScheduledEventAttributes;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.api.history.v1.TimerCanceledEventAttributes;
import io.temporal.api.history.v1.WorkflowExecutionCancelRequestedEventAttributes;
import io.temporal.api.history.v1.WorkflowExecutionUpdateAcceptedEventAttributes;
import io.temporal.api.sdk.v1.UserMetadata;
import io.temporal.api.update.v1.Input;
import io.temporal.api.update.v1.Request;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** What the client prints: the version, the history, the backup's hashes, a YAML request. */
class ClientTextTest {
  private static final DataConverter JSON = DefaultDataConverter.STANDARD_INSTANCE;

  @Test
  void dashVPrintsTheProjectsVersion() {
    StringWriter out = new StringWriter();
    int code =
        Starter.commandLine(new CommandLine(new Starter()))
            .setOut(new PrintWriter(out))
            .execute("-V");
    assertThat(code).isZero();
    assertThat(out.toString()).startsWith("opschain-upgrade 0.").contains("Temporal Java SDK 1.");
  }

  @Test
  void historyNamesTheActivityThatCompletedTheGateAndWhoDecidedAndTheCancel() {
    History.Lines lines = new History.Lines(JSON);
    HistoryEvent scheduled =
        event(5, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
            .setActivityTaskScheduledEventAttributes(
                ActivityTaskScheduledEventAttributes.newBuilder()
                    .setActivityType(
                        io.temporal.api.common.v1.ActivityType.newBuilder().setName("TakeBackup")))
            .build();
    HistoryEvent completed =
        event(7, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
            .setActivityTaskCompletedEventAttributes(
                ActivityTaskCompletedEventAttributes.newBuilder().setScheduledEventId(5))
            .build();
    HistoryEvent update =
        event(9, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
            .setWorkflowExecutionUpdateAcceptedEventAttributes(
                WorkflowExecutionUpdateAcceptedEventAttributes.newBuilder()
                    .setAcceptedRequest(
                        Request.newBuilder()
                            .setInput(
                                Input.newBuilder()
                                    .setName("approveGate")
                                    .setArgs(
                                        Payloads.newBuilder()
                                            .addPayloads(
                                                JSON.toPayload(
                                                        new GateDecision(
                                                            "START", "alice", "window announced"))
                                                    .orElseThrow())))))
            .build();
    HistoryEvent timer =
        event(11, EventType.EVENT_TYPE_TIMER_STARTED)
            .setUserMetadata(
                UserMetadata.newBuilder()
                    .setSummary(JSON.toPayload("gate START: Stop OpsChain?").orElseThrow()))
            .build();
    HistoryEvent timerCanceled =
        event(12, EventType.EVENT_TYPE_TIMER_CANCELED)
            .setTimerCanceledEventAttributes(
                TimerCanceledEventAttributes.newBuilder().setStartedEventId(11))
            .build();
    HistoryEvent cancel =
        event(13, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
            .setWorkflowExecutionCancelRequestedEventAttributes(
                WorkflowExecutionCancelRequestedEventAttributes.newBuilder()
                    .setIdentity("webui-user")
                    .setCause("window closed"))
            .build();

    assertThat(lines.describe(scheduled)).isEqualTo("scheduled TakeBackup");
    assertThat(lines.describe(completed)).isEqualTo("completed TakeBackup");
    assertThat(lines.describe(update))
        .isEqualTo("update approveGate START by alice (window announced)");
    assertThat(lines.describe(timer)).isEqualTo("timer gate START: Stop OpsChain?");
    assertThat(lines.describe(timerCanceled))
        .isEqualTo("timer cancelled: gate START: Stop OpsChain?");
    assertThat(lines.describe(cancel)).isEqualTo("cancel requested by webui-user: window closed");
  }

  @Test
  void statusShowsEachBackupFilesSizeAndHashesAtTheGate() {
    OpenGate gate =
        new OpenGate(
            Gate.BACKUP_VERIFIED,
            "Deploy?",
            "t",
            null,
            List.of(),
            new GateEvidence(
                "verified",
                List.of(),
                new BackupEvidence(
                    "host",
                    "/b",
                    List.of(
                        new BackupFile(
                            "base.tar.zst",
                            4005913L,
                            "c3c04f7c3e84de3f",
                            4005913L,
                            "c3c04f7c3e84de3f")),
                    List.of(),
                    true),
                null),
            "r:BACKUP_VERIFIED#1");
    StringWriter out = new StringWriter();
    new StatusPrinter(new PrintWriter(out))
        .table(
            new UpgradeStatus(
                "wf",
                "opschain",
                Phase.AWAITING_APPROVAL,
                "waiting",
                gate,
                List.of(),
                List.of(),
                null,
                null,
                null,
                false));
    assertThat(out.toString())
        .contains(
            "base.tar.zst        4005913 bytes  pod sha256 c3c04f7c3e84...  host sha256"
                + " c3c04f7c3e84...");
  }

  @Test
  void anUnquotedYamlDateIsTheVersionAsWritten(@TempDir Path dir) throws Exception {
    Path request =
        Files.writeString(
            dir.resolve("request.yaml"),
            """
            namespace: opschain
            release: opschain
            chart: opschain/opschain
            currentVersion: 2025-10-01
            targetVersion: 2026-02-10
            valuesFile: /etc/opschain/values.yaml
            """);

    var r = RequestFile.read(request);

    assertThat(r.currentVersion()).isEqualTo("2025-10-01");
    assertThat(r.targetVersion()).isEqualTo("2026-02-10");
  }

  @Test
  void approveAndRejectPrintTheStateAfterTheDecision() {
    UpgradeStatus after =
        new UpgradeStatus(
            "wf",
            "opschain",
            Phase.STOPPING,
            "stopping OpsChain for the downtime",
            null,
            List.of(),
            List.of(),
            null,
            null,
            null,
            false);
    assertThat(Decision.after(after, "START"))
        .isEqualTo("phase now STOPPING: stopping OpsChain for the downtime");
  }

  private static HistoryEvent.Builder event(long id, EventType type) {
    return HistoryEvent.newBuilder()
        .setEventId(id)
        .setEventType(type)
        .setEventTime(Timestamp.newBuilder().setSeconds(1));
  }
}
