/**
 * The wizard's own script, served as `/js/wizard.js`: copy buttons and focus management after
 * htmx swaps a step in. Everything works without it; it only adds convenience.
 */
export const WIZARD_JS = `"use strict";
(function () {
  function enhance(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (b) {
      if (!navigator.clipboard) return;
      b.hidden = false;
      if (b.dataset.bound) return;
      b.dataset.bound = "1";
      b.addEventListener("click", function () {
        var src = document.querySelector(b.dataset.copy);
        if (!src) return;
        navigator.clipboard.writeText(src.textContent.trim()).then(function () {
          b.textContent = "Copied";
          setTimeout(function () { b.textContent = "Copy"; }, 1500);
        });
      });
    });
  }
  function focusStep() {
    // After a step swap, put keyboard and screen-reader focus on the errors or the new heading.
    var target = document.getElementById("errors") || document.getElementById("step-title");
    if (target) target.focus();
  }
  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    if (document.getElementById("errors")) focusStep();
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    enhance(document);
    if (e.detail && e.detail.target && e.detail.target.id === "wizard") focusStep();
  });
})();
`;
