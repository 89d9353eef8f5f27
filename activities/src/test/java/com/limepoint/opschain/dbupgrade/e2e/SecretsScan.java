package com.limepoint.opschain.dbupgrade.e2e;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.temporal.client.WorkflowClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.LoggerFactory;

/**
 * The e2e values file carries secrets the workflow must never record: a password, a multi-line
 * licence block, a connection URL with a password and an {@code env} entry with a secret value.
 * After a scenario, every payload of its histories (decoded from base64) and every log line of the
 * run must be free of them.
 */
final class SecretsScan {
  static final String PASSWORD = "s3cr3t-db-password-4e1a";
  static final String LICENCE_1 = "LICENCE-LINE-ONE-7f3a";
  static final String LICENCE_2 = "LICENCE-LINE-TWO-9c2e";
  static final String URL_PASSWORD = "url-pass-5d1b";
  static final String ENV_SECRET = "env-secret-88e4";
  static final List<String> SECRETS =
      List.of(PASSWORD, LICENCE_1, LICENCE_2, URL_PASSWORD, ENV_SECRET);

  /** Appended to the e2e values file: where a production file keeps such things. */
  static final String VALUES =
      "  password: \""
          + PASSWORD
          + "\"\nlicense: |\n  "
          + LICENCE_1
          + "\n  "
          + LICENCE_2
          + "\ndatabaseUrl: postgres://opschain:"
          + URL_PASSWORD
          + "@opschain-db:5432/opschain\nenv:\n  - name: API_TOKEN\n    value: "
          + ENV_SECRET
          + "\n";

  private static final Pattern DATA = Pattern.compile("\"data\":\\s*\"([A-Za-z0-9+/=]+)\"");

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  SecretsScan() {
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
  }

  /** The secrets in one history's JSON, its payloads decoded from base64. */
  static List<String> inHistory(String id, String json) {
    StringBuilder text = new StringBuilder(json);
    Matcher m = DATA.matcher(json);
    while (m.find()) {
      text.append('\n')
          .append(new String(Base64.getDecoder().decode(m.group(1)), StandardCharsets.UTF_8));
    }
    return SECRETS.stream()
        .filter(s -> text.indexOf(s) >= 0)
        .map(s -> "history of " + id + " holds " + s)
        .toList();
  }

  /** What of the secrets shows in these workflows' histories or the logs since the start. */
  List<String> leaks(WorkflowClient client, List<String> workflowIds) {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    List<String> found = new ArrayList<>();
    for (String id : workflowIds) {
      String json;
      try {
        json = client.fetchHistory(id).toJson(false);
      } catch (RuntimeException e) {
        continue; // no such workflow in this scenario (a child that never ran)
      }
      found.addAll(inHistory(id, json));
    }
    for (ILoggingEvent e : logs.list) {
      String line = e.getFormattedMessage() + " " + e.getThrowableProxy();
      SECRETS.stream()
          .filter(line::contains)
          .forEach(s -> found.add("log line holds " + s + ": " + e.getLoggerName()));
    }
    return found;
  }
}
