/* The picker page: search, close, and the message protocol of docs/protocol.md. */
(function () {
  var root = document.getElementById("lk-picker");
  if (!root) return;
  var mode = root.getAttribute("data-mode");
  var hostOrigin = root.getAttribute("data-host-origin");
  var ownOrigin = root.getAttribute("data-own-origin");
  var nonce = root.getAttribute("data-nonce") || null;
  var inFrame = window.parent !== window;
  var hostWindow = mode === "inline" && inFrame ? window.parent : (mode === "popup" ? window.opener : null);

  function post(type, extra) {
    if (!hostWindow || !hostOrigin) return;
    var msg = { source: "latchkey", version: 1, nonce: nonce, type: type, connectionId: null,
      integration: null, externalXref: root.getAttribute("data-external-xref"),
      state: root.getAttribute("data-state") || null, error: null, errorDescription: null };
    for (var k in extra) msg[k] = extra[k];
    try { hostWindow.postMessage(msg, hostOrigin); } catch (e) { /* opener gone */ }
  }

  var search = document.getElementById("lk-search");
  if (search) {
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      var items = document.querySelectorAll("#lk-list > li");
      for (var i = 0; i < items.length; i++) {
        items[i].hidden = q && items[i].getAttribute("data-name").indexOf(q) === -1;
      }
    });
  }

  var close = document.getElementById("lk-close");
  if (close) close.addEventListener("click", function () {
    post("closed", {});
    if (mode === "popup") window.close();
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.lk-item") : null;
    if (!link) return;
    post("integration.selected", { integration: link.getAttribute("data-integration") });
    // Providers refuse to be framed: from an inline picker, OAuth runs in a top-level popup.
    if (mode === "inline" && inFrame && link.getAttribute("data-kind") === "oauth2") {
      event.preventDefault();
      var w = 480, h = 720;
      var left = Math.max(0, (screen.width - w) / 2), top = Math.max(0, (screen.height - h) / 2);
      window.open(link.href, "latchkey_auth", "popup,width=" + w + ",height=" + h + ",left=" + left + ",top=" + top);
    }
  });

  // Results from a popup this inline picker opened arrive at our own origin: relay them to the host.
  window.addEventListener("message", function (event) {
    if (event.origin !== ownOrigin || !event.data || event.data.source !== "latchkey") return;
    if (event.data.nonce !== nonce) return;
    if (hostWindow && hostOrigin) hostWindow.postMessage(event.data, hostOrigin);
  });

  function resize() { post("resize", { height: document.documentElement.scrollHeight }); }
  post("loaded", {});
  if (mode === "inline") { resize(); window.addEventListener("resize", resize); }
})();
