// Deskwoot progressive enhancement. Every page works without this file; it only adds comfort.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function each(selector, fn, root) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
  }

  function hue(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 360;
    return h;
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Label colours come from the database; CSSOM (not a style attribute) keeps the CSP happy.
    each("[data-color]", function (el) {
      var color = el.getAttribute("data-color");
      if (/^#[0-9a-fA-F]{6}$/.test(color)) el.style.setProperty("--chip", color);
    });

    // A stable colour per person for avatar bubbles.
    each(".avatar", function (el) {
      var name = el.getAttribute("data-name") || el.textContent;
      el.style.setProperty("--hue", String(hue(name.trim())));
    });

    // Filters apply as soon as a select changes.
    each("select[data-autosubmit]", function (el) {
      if (el.form) el.form.setAttribute("data-enhanced", "");
      el.addEventListener("change", function () {
        if (el.form) el.form.submit();
      });
    });

    // Tell the server our time zone so "snooze until" means local time.
    each("input[data-tz-offset]", function (el) {
      el.value = String(-new Date().getTimezoneOffset());
    });
    each("input[type=datetime-local][data-utc]", function (el) {
      var iso = el.getAttribute("data-utc");
      if (!iso) return;
      var d = new Date(iso);
      if (isNaN(d)) return;
      var local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
      el.value = local.toISOString().slice(0, 16);
    });

    // Exact times in the reader's own time zone on hover.
    each("time[datetime]", function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.title = d.toLocaleString();
    });

    // Ask before destructive buttons.
    each("form[data-confirm]", function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });

    // Files over the composer's limit are refused here, before sending: a request too large
    // for the server to read would lose the typed text with it.
    each("input[type=file][data-max-total]", function (input) {
      var limit = Number(input.getAttribute("data-max-total"));
      var warning = input.parentNode.querySelector("[data-files-too-large]");
      input.addEventListener("change", function () {
        var total = 0;
        Array.prototype.forEach.call(input.files || [], function (file) { total += file.size; });
        var tooLarge = limit > 0 && total > limit;
        input.setCustomValidity(tooLarge && warning ? warning.textContent : "");
        if (warning) warning.hidden = !tooLarge;
      });
    });

    // Ctrl/Cmd+Enter sends the composer.
    each("textarea[data-submit-shortcut]", function (el) {
      el.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && el.form) {
          event.preventDefault();
          if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
        }
      });
    });

    // Copy buttons next to secrets and commands.
    each("[data-copy]", function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) return;
        var text = "value" in source ? source.value : source.textContent;
        navigator.clipboard.writeText(text.trim()).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });

    // A read-only secret (a new bot token) is selected whole on focus, ready to copy.
    each("input[data-select-on-focus]", function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });

    // Token presets tick their scopes; ticking scopes by hand picks the matching preset
    // (or "Custom"). Without JavaScript the server expands a preset when no box is ticked.
    // Every form with the shared pickers (templates/_scope_pickers.html): the bot-token mint
    // form and the OAuth consent.
    each(".preset-options", function (options) {
      var form = options.closest("form");
      var radios = form.querySelectorAll("input[name=preset]");
      var boxes = form.querySelectorAll("input[name=scopes]");
      function ticked() {
        var on = [];
        Array.prototype.forEach.call(boxes, function (box) { if (box.checked) on.push(box.value); });
        return on.sort().join(" ");
      }
      Array.prototype.forEach.call(radios, function (radio) {
        radio.addEventListener("change", function () {
          var scopes = radio.getAttribute("data-scopes");
          if (scopes === null) return; // "Custom" keeps whatever is ticked
          var wanted = scopes.split(" ");
          Array.prototype.forEach.call(boxes, function (box) {
            box.checked = wanted.indexOf(box.value) !== -1;
          });
        });
      });
      Array.prototype.forEach.call(boxes, function (box) {
        box.addEventListener("change", function () {
          var now = ticked();
          var custom = null;
          var match = null;
          Array.prototype.forEach.call(radios, function (radio) {
            var scopes = radio.getAttribute("data-scopes");
            if (scopes === null) custom = radio;
            else if (scopes.split(" ").sort().join(" ") === now) match = radio;
          });
          if (match || custom) (match || custom).checked = true;
        });
      });
      // Coming back to the form (an error, the back button): a checked preset with nothing
      // ticked yet ticks its scopes, so what is shown is what will be minted.
      var chosen = form.querySelector("input[name=preset]:checked[data-scopes]");
      if (chosen && !ticked()) chosen.dispatchEvent(new Event("change"));
    });

    // "Snooze until" only matters for the Snoozed status: show it only then.
    each("#details-form, #status-form", function (form) {
      var status = form.querySelector("select[name=status]");
      var snooze = form.querySelector(".snooze-field");
      if (!status || !snooze) return;
      function sync() { snooze.hidden = status.value !== "snoozed"; }
      status.addEventListener("change", sync);
      sync();
    });

    // On wide screens the conversation filters are always open; on phones they fold away
    // behind "Filters" unless one is in use (the server opens it then).
    each("details[data-filters]", function (details) {
      var wide = window.matchMedia("(min-width: 641px)");
      function sync() { if (wide.matches) details.open = true; }
      if (wide.addEventListener) wide.addEventListener("change", sync);
      sync();
    });

    // Close an open menu when clicking elsewhere or pressing Escape.
    document.addEventListener("click", function (event) {
      each("details.menu[open]", function (menu) {
        if (!menu.contains(event.target)) menu.removeAttribute("open");
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      each("details.menu[open]", function (menu) {
        menu.removeAttribute("open");
        var summary = menu.querySelector("summary");
        if (summary) summary.focus();
      });
    });

    // Land on the newest message when opening a conversation: on wide screens only. On a
    // phone the page opens on its title, status and actions ("Latest" jumps down), and
    // never when a message is flashed at the top: the person should see it first.
    var latest = document.getElementById("latest");
    var wideScreen = window.matchMedia("(min-width: 641px)").matches;
    if (latest && wideScreen && !window.location.hash && !document.querySelector(".flash")) {
      latest.scrollIntoView({ block: "center" });
    }
  });
})();

// Drafts queue: one review panel open per card, and typing starts where the panel opens.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".draft-card details[data-panel]"), function (panel) {
      panel.addEventListener("toggle", function () {
        if (!panel.open) return;
        var card = panel.closest(".draft-card");
        Array.prototype.forEach.call(card.querySelectorAll("details[data-panel][open]"), function (other) {
          if (other !== panel) other.removeAttribute("open");
        });
        var field = panel.querySelector("textarea");
        if (field && document.activeElement === panel.querySelector("summary")) field.focus();
      });
    });
    // Sent back with an error: put the cursor in the field that needs fixing.
    var invalid = document.querySelector(".draft-card details[open] textarea[aria-invalid=true]");
    if (invalid) invalid.focus();
  });
})();
