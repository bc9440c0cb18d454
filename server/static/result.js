/* The result page: post the outcome to the host window (exact origin, never "*"), then close. */
(function () {
  var el = document.getElementById("lk-result");
  if (!el) return;
  var payload;
  try { payload = JSON.parse(el.getAttribute("data-payload")); } catch (e) { return; }
  var hostOrigin = el.getAttribute("data-host-origin");
  var ownOrigin = el.getAttribute("data-own-origin");
  var mode = el.getAttribute("data-mode");
  var sent = false;
  try {
    if (window.opener && mode === "inline") {
      // Opened by the inline picker (our own origin), which relays to the host.
      window.opener.postMessage(payload, ownOrigin); sent = true;
    } else if (window.opener && hostOrigin) {
      window.opener.postMessage(payload, hostOrigin); sent = true;
    } else if (window.parent !== window && hostOrigin) {
      window.parent.postMessage(payload, hostOrigin); sent = true;
    }
  } catch (e) { sent = false; }
  if (sent && window.opener) setTimeout(function () { window.close(); }, 300);
})();
