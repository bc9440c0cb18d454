/* The example's own script: open the picker three ways, and show what comes back. */
(function () {
  var LATCHKEY = document.body.getAttribute("data-latchkey-url");
  var WORKSPACE = document.body.getAttribute("data-workspace");
  // In a real app this is your signed-in user's ID; Latchkey files connections under it.
  var USER_ID = "plain-demo-user";

  var list = document.getElementById("connections");
  var empty = document.getElementById("empty");
  var status = document.getElementById("status");

  function showConnection(connection, how) {
    var item = document.createElement("li");
    item.className = "connection";
    item.setAttribute("data-connection-id", connection.connectionId);
    var logo = document.createElement("img");
    logo.src = LATCHKEY + "/logos/" + encodeURIComponent(connection.integration) + ".svg";
    logo.alt = "";
    logo.width = logo.height = 32;
    var title = document.createElement("strong");
    title.textContent = connection.integration + " ";
    var via = document.createElement("span");
    via.className = "how";
    via.textContent = "connected (" + how + ")";
    title.appendChild(via);
    var id = document.createElement("span");
    id.className = "id";
    id.textContent = connection.connectionId + (connection.state ? "  ·  state " + connection.state : "");
    item.append(logo, title, id);
    list.prepend(item);
    empty.hidden = true;
    status.textContent = "";
  }

  function showProblem(text) {
    status.textContent = text;
  }

  function options(extra) {
    var base = {
      workspaceId: WORKSPACE,
      environment: "sandbox",
      externalXref: USER_ID,
    };
    for (var key in extra) base[key] = extra[key];
    return base;
  }

  // Popup: call open() in the click handler itself, before any await, or the browser blocks it.
  var popupButton = document.getElementById("connect-popup");
  if (popupButton) popupButton.addEventListener("click", function () {
    Latchkey.open(options({ state: "popup" })).then(
      function (connection) { showConnection(connection, "popup"); },
      function (error) {
        showProblem(error.code === "closed" ? "The picker was closed before anything was connected." : error.code + ": " + error.message);
      });
  });

  // Redirect: the whole window goes to Latchkey and comes back to this page with the result.
  var here = location.origin + location.pathname;
  var redirectButton = document.getElementById("connect-redirect");
  if (redirectButton) redirectButton.addEventListener("click", function () {
    Latchkey.open(options({ mode: "redirect", state: "redirect", successUrl: here, failureUrl: here }));
  });
  var query = new URLSearchParams(location.search);
  if (query.get("connection_id")) {
    showConnection({ connectionId: query.get("connection_id"), integration: query.get("integration"), state: query.get("state") }, "redirect");
  } else if (query.get("error")) {
    showProblem(query.get("error") + ": " + (query.get("error_description") || ""));
  }
  if (query.has("connection_id") || query.has("error")) history.replaceState(null, "", here);

  // Inline: mount() appends an iframe; destroy() removes it.
  var inline = null;
  var toggle = document.getElementById("toggle-inline");
  if (toggle) toggle.addEventListener("click", function () {
    if (inline) {
      inline.destroy();
      inline = null;
      toggle.textContent = "Show the picker inline";
      return;
    }
    inline = Latchkey.mount(document.getElementById("inline-picker"), options({
      state: "inline",
      onSuccess: function (connection) { showConnection(connection, "inline"); },
      onError: function (error) { showProblem(error.code + ": " + error.message); },
      onClose: function () { toggle.click(); },
    }));
    toggle.textContent = "Hide the inline picker";
  });

  // Declarative elements (declarative.html) report through bubbling DOM events.
  document.addEventListener("latchkey:success", function (event) {
    showConnection(event.detail, event.target.hasAttribute("data-latchkey") ? "inline" : "popup");
  });
  document.addEventListener("latchkey:error", function (event) {
    showProblem(event.detail.code + ": " + event.detail.message);
  });
})();
