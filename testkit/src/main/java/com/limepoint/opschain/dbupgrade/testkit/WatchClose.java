package com.limepoint.opschain.dbupgrade.testkit;

import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;

/**
 * A watch's WebSocket whose close does not stop the server. fabric8's mock server (8.0.0) closes a
 * watch in {@code WatchEventsListener.onClosed} on its only event loop, and there waits up to a
 * minute ({@code executor.awaitTermination(1, MINUTES)}) for the watch's event sender, which may
 * itself wait for that loop: every request of every client then stalls (a worker killed with
 * watches open left the harness deaf for a minute). The API server serves each watch in a goroutine
 * of its own ({@code k8s.io/apiserver/pkg/endpoints/handlers/watch.go}, {@code serveWatch}), so a
 * closing watch never holds other requests up. Here the close runs on a thread of its own.
 */
final class WatchClose extends WebSocketListener {
  private final WebSocketListener d;

  private WatchClose(WebSocketListener d) {
    this.d = d;
  }

  /** The CRUD dispatcher's answer, its watch (if it is one) closed off the event loop. */
  static io.fabric8.mockwebserver.http.MockResponse offTheLoop(
      io.fabric8.mockwebserver.http.MockResponse r) {
    WebSocketListener l = r.getWebSocketListener();
    return l == null ? r : r.withWebSocketUpgrade(new WatchClose(l));
  }

  @Override
  public void onBeforeAccept(WebSocket ws, Response response) {
    d.onBeforeAccept(ws, response);
  }

  @Override
  public void onOpen(WebSocket ws, Response response) {
    d.onOpen(ws, response);
  }

  @Override
  public void onMessage(WebSocket ws, String text) {
    d.onMessage(ws, text);
  }

  @Override
  public void onMessage(WebSocket ws, byte[] bytes) {
    d.onMessage(ws, bytes);
  }

  @Override
  public void onPing(WebSocket ws, byte[] bytes) {
    d.onPing(ws, bytes);
  }

  @Override
  public void onClosing(WebSocket ws, int code, String reason) {
    d.onClosing(ws, code, reason);
  }

  @Override
  public void onClosed(WebSocket ws, int code, String reason) {
    Thread.ofPlatform()
        .daemon()
        .name("harness-watch-close")
        .start(() -> d.onClosed(ws, code, reason));
  }

  @Override
  public void onFailure(WebSocket ws, Throwable t, Response response) {
    Thread.ofPlatform()
        .daemon()
        .name("harness-watch-close")
        .start(() -> d.onFailure(ws, t, response));
  }
}
