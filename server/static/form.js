/* Credentials and variables forms: required / pattern checks before submitting, with messages tied to
   each field (aria-invalid, aria-describedby). The server checks again and has the last word. */
(function () {
  var form = document.querySelector("form[data-lk-validate]");
  if (!form) return;
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-msg-required]"));
  var attempted = false;

  function matches(input, value) {
    var source = input.getAttribute("data-pattern");
    if (!source) return true;
    try { return new RegExp("^(?:" + source + ")$").test(value); } catch (e) { return true; }
  }

  function check(input) {
    var value = input.value.trim();
    var message = "";
    if (!value && input.required) message = input.getAttribute("data-msg-required");
    else if (value && !matches(input, value)) message = input.getAttribute("data-msg-pattern");
    var out = document.getElementById("e-" + input.name);
    var field = input.closest(".lk-field");
    if (message) {
      input.setAttribute("aria-invalid", "true");
      if (field) field.classList.add("lk-invalid");
      if (out) out.textContent = message;
    } else if (input.getAttribute("aria-invalid") === "true") {
      input.removeAttribute("aria-invalid");
      if (field) field.classList.remove("lk-invalid");
      if (out) out.textContent = "";
    }
    return !message;
  }

  inputs.forEach(function (input) {
    input.addEventListener("input", function () { if (attempted || input.getAttribute("aria-invalid") === "true") check(input); });
    input.addEventListener("blur", function () { if (attempted && input.value) check(input); });
  });

  var submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    attempted = true;
    if (submit && submit.getAttribute("aria-disabled") === "true") { event.preventDefault(); return; }
    var invalid = inputs.filter(function (input) { return !check(input); });
    if (invalid.length) {
      event.preventDefault();
      invalid[0].focus();
      return;
    }
    if (submit && submit.getAttribute("data-busy-label")) {
      submit.setAttribute("aria-disabled", "true");
      submit.textContent = submit.getAttribute("data-busy-label");
    }
  });

  // Coming back (bfcache) to a form that was sent: make it usable again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && submit && submit.getAttribute("aria-disabled") === "true") window.location.reload();
  });
})();
