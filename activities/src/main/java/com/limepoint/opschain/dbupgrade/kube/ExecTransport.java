package com.limepoint.opschain.dbupgrade.kube;

/**
 * How the JDK's HTTP client (fabric8's transport here) reads exec streams. By default it reads
 * sockets 16 KiB at a time, and every read of a websocket stream is one delivery and one more
 * demand round trip through its selector thread: a 1 GiB copy costs 65,536 of them. Reading 256 KiB
 * at a time takes a whole exec message (32–64 KiB from API servers) in one read. The client reads
 * the setting once, when it is first used, so this runs at the start of {@code main}; an explicit
 * {@code -Djdk.httpclient.bufsize} wins.
 */
public final class ExecTransport {
  /** The JDK HTTP client's read buffer size, in bytes. */
  public static final String BUFSIZE_PROPERTY = "jdk.httpclient.bufsize";

  static final int READ_BUFFER = 256 << 10;

  private ExecTransport() {}

  /** Sets the read buffer unless the JVM was given one. */
  public static void configure() {
    if (System.getProperty(BUFSIZE_PROPERTY) == null) {
      System.setProperty(BUFSIZE_PROPERTY, Integer.toString(READ_BUFFER));
    }
  }
}
