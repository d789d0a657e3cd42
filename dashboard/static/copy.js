// Copy buttons of the dashboard (docs/dashboard.md): every element with data-copy (a
// read-only input) gets a "Copy" button after it, which copies its value and says so in the
// page's aria-live region (#copy-status). Without JavaScript there are no buttons and the
// values read as they are (select and copy). A file, not inline script: the CSP allows only
// script-src 'self'.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  function say(text) {
    if (!status) { return; }
    status.textContent = "";
    // a fresh text node, so that screen readers announce the same words twice in a row
    window.setTimeout(function () { status.textContent = text; }, 50);
  }
  function fallback(el) {
    el.focus();
    el.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }
  document.querySelectorAll("[data-copy]").forEach(function (el) {
    var label = el.getAttribute("data-copy");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + label);
    button.addEventListener("click", function () {
      var value = el.value !== undefined ? el.value : el.textContent;
      var done = function () { say("Copied " + label + "."); };
      var failed = function () {
        if (fallback(el)) { done(); } else { say("Could not copy: select the value and copy it."); }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(value).then(done, failed);
      } else {
        failed();
      }
    });
    el.insertAdjacentElement("afterend", button);
  });
})();
