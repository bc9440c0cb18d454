/* The picker page: search, category filter, keyboard navigation, close, resize, and the message
   protocol of docs/protocol.md. */
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

  function close() {
    post("closed", {});
    if (mode === "popup") window.close();
  }

  // --- Filtering: search text and category, announced through the #lk-count live region.
  var search = document.getElementById("lk-search");
  var list = document.getElementById("lk-list");
  var count = document.getElementById("lk-count");
  var noResults = document.getElementById("lk-noresults");
  var rows = list ? Array.prototype.slice.call(list.children) : [];
  var counts = [];
  try { counts = JSON.parse(root.getAttribute("data-counts")) || []; } catch (e) { counts = []; }
  var announceTimer = null;

  function fold(text) {
    text = (text || "").toLowerCase();
    return text.normalize ? text.normalize("NFD").replace(/[\u0300-\u036f]/g, "") : text;
  }
  rows.forEach(function (row) { row.lkSearch = fold(row.getAttribute("data-search") || row.getAttribute("data-name")); });

  function category() {
    var checked = document.querySelector("input[name=lk-category]:checked");
    return checked ? checked.value : "";
  }

  function applyFilter() {
    var words = fold(search ? search.value : "").split(/\s+/).filter(Boolean);
    var cat = category();
    var shown = 0;
    rows.forEach(function (row) {
      var cats = " " + row.getAttribute("data-categories") + " ";
      var match = (!cat || cats.indexOf(" " + cat + " ") !== -1) &&
        words.every(function (w) { return row.lkSearch.indexOf(w) !== -1; });
      row.hidden = !match;
      if (match) shown++;
    });
    if (noResults) noResults.hidden = shown > 0;
    if (count) {
      // Debounced so a screen reader hears the result of the typing, not every keystroke.
      clearTimeout(announceTimer);
      var text = counts[shown] || String(shown);
      announceTimer = setTimeout(function () { count.textContent = text; }, 250);
    }
    resetRoving();
  }

  if (search) {
    search.addEventListener("input", applyFilter);
    search.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        var first = visibleItems()[0];
        if (first) { event.preventDefault(); focusItem(first); }
      } else if (event.key === "Escape" && search.value) {
        // Escape first clears the search; a second Escape closes the picker.
        event.preventDefault();
        event.stopPropagation();
        search.value = "";
        applyFilter();
      }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[name=lk-category]"), function (radio) {
    radio.addEventListener("change", function () {
      applyFilter();
      var chip = radio.nextElementSibling;
      if (chip && chip.scrollIntoView) chip.scrollIntoView({ block: "nearest", inline: "nearest" });
    });
  });
  // A mouse wheel scrolls the chip row sideways while it has further to go that way (a thin
  // scrollbar and the keyboard reach the last chips too); at either end the page scrolls as usual.
  var chips = document.getElementById("lk-categories");
  if (chips) chips.addEventListener("wheel", function (event) {
    if (event.ctrlKey || Math.abs(event.deltaX) >= Math.abs(event.deltaY)) return;
    var room = event.deltaY > 0 ? chips.scrollWidth - chips.clientWidth - chips.scrollLeft : chips.scrollLeft;
    if (room <= 0) return;
    event.preventDefault();
    chips.scrollLeft += event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
  }, { passive: false });
  var reset = document.getElementById("lk-reset");
  if (reset) reset.addEventListener("click", function () {
    if (search) search.value = "";
    var all = document.getElementById("lk-cat-all");
    if (all) all.checked = true;
    applyFilter();
    if (search) search.focus();
  });

  // --- Keyboard: one tab stop for the list (roving tabindex); arrows, Home and End move within it.
  function visibleItems() {
    return rows.filter(function (row) { return !row.hidden; }).map(function (row) { return row.querySelector("a.lk-item"); });
  }
  function focusItem(item) {
    rows.forEach(function (row) { row.querySelector("a.lk-item").tabIndex = -1; });
    item.tabIndex = 0;
    item.focus();
  }
  function resetRoving() {
    var items = visibleItems();
    var current = items.filter(function (a) { return a.tabIndex === 0; })[0] || items[0];
    rows.forEach(function (row) { row.querySelector("a.lk-item").tabIndex = -1; });
    if (current) current.tabIndex = 0;
  }
  if (list) {
    resetRoving();
    list.addEventListener("keydown", function (event) {
      var items = visibleItems();
      var index = items.indexOf(document.activeElement);
      if (index === -1 || event.altKey || event.ctrlKey || event.metaKey) return;
      var next = null;
      if (event.key === "ArrowDown" || event.key === "ArrowRight") next = items[Math.min(index + 1, items.length - 1)];
      else if (event.key === "ArrowUp" || event.key === "ArrowLeft") {
        if (index === 0 && search && event.key === "ArrowUp") { event.preventDefault(); search.focus(); return; }
        next = items[Math.max(index - 1, 0)];
      } else if (event.key === "Home") next = items[0];
      else if (event.key === "End") next = items[items.length - 1];
      else if (event.key === " ") { event.preventDefault(); items[index].click(); return; }
      if (next) { event.preventDefault(); focusItem(next); }
    });
    list.addEventListener("focusin", function (event) {
      var item = event.target.closest ? event.target.closest("a.lk-item") : null;
      if (item && item.tabIndex !== 0) { rows.forEach(function (row) { row.querySelector("a.lk-item").tabIndex = -1; }); item.tabIndex = 0; }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !event.defaultPrevented) { event.preventDefault(); close(); }
  });

  var closeButton = document.getElementById("lk-close");
  if (closeButton) closeButton.addEventListener("click", close);

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

  post("loaded", {});

  // Inline: the host's iframe follows the content's height, shrinking as well as growing.
  if (mode === "inline" && inFrame) {
    var page = document.getElementById("main") || root;
    var lastHeight = 0;
    var report = function () {
      var height = Math.ceil(page.getBoundingClientRect().height);
      if (height !== lastHeight) { lastHeight = height; post("resize", { height: height }); }
    };
    if (window.ResizeObserver) new ResizeObserver(report).observe(page);
    else window.addEventListener("resize", report);
    report();
  }
})();
