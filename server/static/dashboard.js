/* The dashboard's progressive enhancements: copy buttons, snippet tabs, the live integration
   filter, and the embed page's live preview. Every page works without this file. */
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.classList.add("dk-js");

  // --- An off-screen live region for short announcements ("Copied").
  var live = doc.createElement("p");
  live.className = "lk-sr";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  doc.body.appendChild(live);
  function announce(text) {
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 30);
  }

  // --- Copy buttons: <button data-copy="#selector"> copies the target's text.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = doc.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "lk-sr";
      doc.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = doc.execCommand("copy"); } catch (e) { ok = false; }
      doc.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy failed"));
    });
  }
  Array.prototype.forEach.call(doc.querySelectorAll("[data-copy]"), function (button) {
    var target = doc.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    button.hidden = false;
    var label = button.querySelector("[data-copy-label]");
    var original = label ? label.textContent : "";
    var timer = null;
    button.addEventListener("click", function () {
      copyText(target.textContent).then(function () {
        button.setAttribute("data-copied", "");
        if (label) label.textContent = "Copied";
        announce("Copied to the clipboard");
        clearTimeout(timer);
        timer = setTimeout(function () {
          button.removeAttribute("data-copied");
          if (label) label.textContent = original;
        }, 2000);
      }, function () {
        var range = doc.createRange();
        range.selectNodeContents(target);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        announce("Copying is blocked here: the text is selected, press Ctrl+C or Cmd+C");
      });
    });
  });

  // --- Tabs: [data-tabs] holding [data-tab-panel] sections, each with a [data-tab-label] heading.
  Array.prototype.forEach.call(doc.querySelectorAll("[data-tabs]"), function (container, n) {
    var panels = Array.prototype.slice.call(container.querySelectorAll("[data-tab-panel]"));
    if (panels.length < 2) return;
    var list = doc.createElement("div");
    list.className = "dk-tablist";
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-label", "Snippet");
    var tabs = panels.map(function (panel, i) {
      var heading = panel.querySelector("[data-tab-label]");
      var tab = doc.createElement("button");
      tab.type = "button";
      tab.className = "dk-tab";
      tab.id = "tab-" + n + "-" + i;
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      tab.setAttribute("data-tab", panel.id.replace(/^snippet-/, ""));
      tab.textContent = heading ? heading.getAttribute("data-tab-label") : "Tab " + (i + 1);
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      list.appendChild(tab);
      return tab;
    });
    function select(index, focus) {
      tabs.forEach(function (tab, i) {
        var on = i === index;
        tab.setAttribute("aria-selected", on ? "true" : "false");
        tab.tabIndex = on ? 0 : -1;
        panels[i].hidden = !on;
      });
      if (focus) tabs[index].focus();
    }
    list.addEventListener("click", function (event) {
      var tab = event.target.closest("[role=tab]");
      if (tab) select(tabs.indexOf(tab), false);
    });
    list.addEventListener("keydown", function (event) {
      var current = tabs.indexOf(doc.activeElement);
      if (current < 0) return;
      var next = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select((next + tabs.length) % tabs.length, true);
    });
    container.insertBefore(list, container.firstChild);
    container.classList.add("dk-tabs-on");
    select(0, false);
  });

  // --- Integrations: filter the cards while typing (the form still works without script).
  var filterForm = doc.querySelector("[data-live-filter]");
  if (filterForm) {
    var input = filterForm.querySelector("input[type=search]");
    var grid = doc.querySelector(filterForm.getAttribute("data-live-filter"));
    var count = doc.getElementById("integration-count");
    var none = doc.getElementById("integration-none");
    if (input && grid) {
      var cards = Array.prototype.slice.call(grid.children);
      var template = count ? count.getAttribute("data-count-template") : "";
      var timer = null;
      var apply = function () {
        var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
        var shown = 0;
        cards.forEach(function (card) {
          var text = card.getAttribute("data-search") || "";
          var match = words.every(function (w) { return text.indexOf(w) !== -1; });
          card.hidden = !match;
          if (match) shown++;
        });
        if (none) none.hidden = shown > 0;
        clearTimeout(timer);
        timer = setTimeout(function () {
          if (count) count.textContent = shown === 1 ? "1 integration shown" : template.replace("{n}", shown);
        }, 250);
      };
      input.addEventListener("input", apply);
    }
  }

  // --- Embed: the preview follows the form before it is saved; the accent has a colour picker.
  var embedForm = doc.getElementById("embed-form");
  var preview = doc.getElementById("preview");
  if (embedForm && preview) {
    var unsaved = doc.getElementById("unsaved");
    var accent = doc.getElementById("accent");
    var picker = doc.getElementById("accent-picker");
    if (accent && picker) {
      picker.hidden = false;
      picker.addEventListener("input", function () { accent.value = picker.value; refresh(); });
      accent.addEventListener("input", function () {
        if (/^#?[0-9a-f]{6}$/i.test(accent.value.trim())) picker.value = "#" + accent.value.trim().replace(/^#/, "");
      });
    }
    var values = function (name) {
      return Array.prototype.map.call(embedForm.querySelectorAll("input[name=" + name + "]:checked"), function (el) { return el.value; });
    };
    var previewTimer = null;
    var refresh = function () {
      clearTimeout(previewTimer);
      previewTimer = setTimeout(function () {
        var query = new URLSearchParams();
        query.set("theme", embedForm.elements.theme.value);
        query.set("lang", embedForm.elements.lang.value);
        var color = (accent && accent.value.trim().replace(/^#/, "")) || "";
        if (/^[0-9a-f]{6}$/i.test(color)) query.set("accent", color);
        ["scopes", "categories", "integrations"].forEach(function (name) {
          var picked = values(name);
          if (picked.length) query.set(name, picked.join(","));
        });
        var url = embedForm.getAttribute("data-preview-base") + "?" + query.toString();
        if (preview.getAttribute("src") !== url) preview.setAttribute("src", url);
      }, 250);
    };
    embedForm.addEventListener("input", function () {
      if (unsaved) unsaved.textContent = "Unsaved changes: the preview shows them; save to update the snippets.";
      refresh();
    });
    embedForm.addEventListener("change", refresh);

    // The preview is a same-origin frame: its picker links are inert here.
    var note = doc.createElement("p");
    note.className = "lk-help dk-preview-note";
    note.setAttribute("role", "status");
    preview.parentNode.parentNode.appendChild(note);
    preview.addEventListener("load", function () {
      var frameDoc = null;
      try { frameDoc = preview.contentDocument; } catch (e) { frameDoc = null; }
      if (!frameDoc) return;
      frameDoc.addEventListener("click", function (event) {
        var link = event.target.closest && event.target.closest("a[href]");
        if (!link) return;
        event.preventDefault();
        var name = link.querySelector(".lk-name");
        note.textContent = "Preview only: on your page, choosing " + (name ? name.textContent : "an integration") + " starts its authorization.";
      }, true);
    });
    window.addEventListener("message", function (event) {
      if (event.source !== preview.contentWindow || event.origin !== window.location.origin) return;
      var data = event.data || {};
      if (data.source === "latchkey" && data.type === "resize" && typeof data.height === "number") {
        preview.style.height = Math.max(420, Math.min(760, Math.ceil(data.height))) + "px";
      }
    });
  }
})();
