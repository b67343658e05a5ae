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
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var text = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = text; }, 1500);
        });
      });
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

    // Land on the newest message when opening a conversation.
    var latest = document.getElementById("latest");
    // (Not when a message is flashed at the top: the person should see it first.)
    if (latest && !window.location.hash && !document.querySelector(".flash")) {
      latest.scrollIntoView({ block: "center" });
    }
  });
})();
