/* Every page: the host's accent colour, kept readable (WCAG AA), and the back button. */
(function () {
  var root = document.documentElement;

  function rgb(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec((hex || "").trim());
    if (!m) return null;
    var n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function luminance(c) {
    var l = c.map(function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function mix(a, b, t) { return a.map(function (v, i) { return Math.round(v + (b[i] - v) * t); }); }
  function hex(c) { return "#" + c.map(function (v) { return (v < 16 ? "0" : "") + v.toString(16); }).join(""); }
  function token(name) { return getComputedStyle(root).getPropertyValue(name); }

  var accent = rgb(root.getAttribute("data-accent"));
  var WHITE = [255, 255, 255], BLACK = [0, 0, 0];

  function applyAccent() {
    var bg = rgb(token("--lk-bg")) || WHITE, fg = rgb(token("--lk-fg")) || BLACK;
    // Text on the accent: white or black, whichever contrasts more (one of them always reaches 4.5:1).
    var onAccent = contrast(accent, WHITE) >= contrast(accent, BLACK) ? WHITE : BLACK;
    // The accent as text, outline or border on the page: moved toward the text colour until it reads at 4.5:1.
    var ink = accent;
    for (var t = 0.1; contrast(ink, bg) < 4.5 && t <= 1; t += 0.1) ink = mix(accent, fg, t);
    root.style.setProperty("--lk-accent", hex(accent));
    root.style.setProperty("--lk-on-accent", hex(onAccent));
    root.style.setProperty("--lk-accent-ink", hex(ink));
  }

  if (accent) {
    applyAccent();
    if (root.getAttribute("data-theme") === "auto" && window.matchMedia) {
      var dark = window.matchMedia("(prefers-color-scheme: dark)");
      if (dark.addEventListener) dark.addEventListener("change", applyAccent);
    }
  }

  var back = document.querySelector("[data-lk-back]");
  if (back && window.history.length > 1) {
    back.hidden = false;
    back.addEventListener("click", function () { window.history.back(); });
  }
})();
