(function () {
  var accent = document.documentElement.getAttribute("data-accent");
  if (accent && /^[0-9a-fA-F]{6}$/.test(accent)) {
    document.documentElement.style.setProperty("--lk-accent", "#" + accent);
  }
})();
