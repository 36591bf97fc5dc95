// The pages' few behaviours, in one file served from /static so that the content security policy can forbid every
// inline script (web/security.py). Each behaviour is opted into by a data attribute; pages work without script too.
(function () {
  "use strict";

  // <button data-print>: print the page.
  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function (event) { event.preventDefault(); window.print(); });
  });

  // <a data-back>: go back a page.
  document.querySelectorAll("[data-back]").forEach(function (el) {
    el.addEventListener("click", function (event) { event.preventDefault(); history.back(); });
  });

  // <details data-menu>: the main menu's drop-downs. They open and close without script (summary: Enter or Space);
  // the script only keeps one open at a time and closes it on Escape (focus back on its title) or a click elsewhere.
  var menus = document.querySelectorAll("details[data-menu]");
  menus.forEach(function (el) {
    el.addEventListener("toggle", function () {
      if (el.open) menus.forEach(function (other) { if (other !== el) other.open = false; });
    });
    el.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && el.open) { el.open = false; el.querySelector("summary").focus(); }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (el) { if (el.open && !el.contains(event.target)) el.open = false; });
  });

  // <select data-autosubmit>: submit the form when the choice changes.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { if (el.form) el.form.submit(); });
  });

  // New user form: show only the scope select that matches the chosen role.
  var role = document.getElementById("f-role");
  if (role && document.querySelector(".scope-field")) {
    var sync = function () {
      document.querySelectorAll(".scope-field").forEach(function (el) {
        el.style.display = (!role.value || el.dataset.role === role.value) ? "" : "none";
      });
    };
    role.addEventListener("change", sync);
    sync();
  }

  // The sales counter (templates/slips/new.html): Enter in the ID field always looks the number up (a scanner ends
  // with Enter; it must never confirm the previous buyer's preview), Enter in a line's field previews, and typing
  // another ID number removes the lines and the preview of the last one, so nothing of it can be confirmed.
  var counter = document.querySelector("form[data-counter]");
  if (counter) {
    var idField = counter.querySelector("[data-id-field]");
    var lookedUp = idField ? idField.value : "";
    var press = function (selector) {
      var button = counter.querySelector(selector);
      if (!button) return;
      if (counter.requestSubmit) counter.requestSubmit(button); else button.click();
    };
    counter.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing) return;
      var target = event.target;
      if (target === idField) { event.preventDefault(); press("[data-lookup]"); }
      else if (target.tagName === "INPUT" || target.tagName === "SELECT") {
        event.preventDefault();
        press(counter.querySelector("[data-preview]") ? "[data-preview]" : "[data-lookup]");
      }
    });
    if (idField) {
      // Back at the ID field after a lookup: the next number typed or scanned replaces the last one.
      if (document.activeElement === idField) idField.select();
      idField.addEventListener("input", function () {
        if (idField.value === lookedUp) return;
        counter.querySelectorAll("[data-sale]").forEach(function (el) { el.remove(); });
      });
    }
  }

  // Scanning copies: a short beep for a recorded copy, a loud alarm for anything else (the clerk looks at the
  // scanner, not the screen). No audio: the colour of the result box still says it.
  var box = document.getElementById("scan-result");
  if (box) {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var bad = box.dataset.kind !== "ok";
      var beep = function (at, freq, len) {
        var o = ctx.createOscillator(), g = ctx.createGain();
        o.type = bad ? "square" : "sine"; o.frequency.value = freq; g.gain.value = bad ? 0.4 : 0.15;
        o.connect(g); g.connect(ctx.destination); o.start(ctx.currentTime + at); o.stop(ctx.currentTime + at + len);
      };
      if (bad) { beep(0, 440, 0.25); beep(0.3, 330, 0.25); beep(0.6, 440, 0.4); } else { beep(0, 1200, 0.08); }
    } catch (e) { /* no audio */ }
  }
})();
