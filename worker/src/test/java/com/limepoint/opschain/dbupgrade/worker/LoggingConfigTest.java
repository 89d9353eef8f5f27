package com.limepoint.opschain.dbupgrade.worker;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** The worker's logback.xml: readable text by default, JSON with LOG_FORMAT=json, MDC in both. */
class LoggingConfigTest {
  final PrintStream original = System.out;

  @AfterEach
  void restore() throws Exception {
    System.setOut(original);
    System.clearProperty("LOG_FORMAT");
    MDC.clear();
    configure();
  }

  @Test
  void textCarriesTheWorkflowIdAndActivityType() throws Exception {
    String out = logOnce();
    assertThat(out)
        .contains("INFO ")
        .contains("[opschain-db-upgrade-opschain TakeBackup]")
        .contains("- took 3 files");
  }

  @Test
  void jsonOnRequestIsOneObjectPerLineWithTheMdc() throws Exception {
    System.setProperty("LOG_FORMAT", "json");
    String out = logOnce();
    JsonNode line =
        new ObjectMapper().readTree(out.strip().lines().reduce((a, b) -> b).orElseThrow());
    assertThat(line.get("level").asText()).isEqualTo("INFO");
    assertThat(line.get("formattedMessage").asText()).isEqualTo("took 3 files");
    assertThat(line.at("/mdc/WorkflowId").asText()).isEqualTo("opschain-db-upgrade-opschain");
    assertThat(line.at("/mdc/RunId").asText()).isEqualTo("run-1");
    assertThat(line.at("/mdc/ActivityType").asText()).isEqualTo("TakeBackup");
  }

  private String logOnce() throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true));
    configure();
    MDC.put("WorkflowId", "opschain-db-upgrade-opschain");
    MDC.put("RunId", "run-1");
    MDC.put("ActivityType", "TakeBackup");
    LoggerFactory.getLogger("com.limepoint.test").info("took {} files", 3);
    System.out.flush();
    return buf.toString();
  }

  private static void configure() throws Exception {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    JoranConfigurator c = new JoranConfigurator();
    c.setContext(ctx);
    c.doConfigure(LoggingConfigTest.class.getResource("/logback.xml"));
  }
}
