/* Behaviour shared by the approval pages. Loaded as a static file: the CSP forbids
 * inline script and inline style, so everything here uses DOM APIs and classes.
 *
 * - forms with data-confirm ask in a <dialog> before they post;
 * - a submitted form's buttons are disabled, so a double tap posts once (the hidden
 *   client_request_id makes a repeat harmless on the server as well);
 * - an htmx swap that landed on the login page (session expired) reloads instead.
 */
(function () {
  "use strict";

  if (window.htmx) {
    // htmx would add a <style> element for its indicators, which the CSP refuses.
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
  }

  var dialog = null;
  var pendingForm = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function lang(ja, en) {
    return (document.documentElement.lang || "ja").indexOf("en") === 0 ? en : ja;
  }

  function buildDialog() {
    dialog = el("dialog", { "class": "confirm-dialog", "aria-labelledby": "confirm-dialog-title",
                            "aria-describedby": "confirm-dialog-text" });
    var title = el("h2", { id: "confirm-dialog-title" }, lang("確認", "Please confirm"));
    var text = el("p", { id: "confirm-dialog-text", "class": "confirm-text" });
    var actions = el("div", { "class": "dialog-actions" });
    var cancel = el("button", { type: "button", "class": "button button-secondary",
                                "data-dialog-cancel": "" }, lang("キャンセル", "Cancel"));
    var ok = el("button", { type: "button", "class": "button button-primary button-approve",
                            "data-dialog-ok": "" }, "OK");
    actions.appendChild(cancel);
    actions.appendChild(ok);
    dialog.appendChild(title);
    dialog.appendChild(text);
    dialog.appendChild(actions);
    document.body.appendChild(dialog);
    cancel.addEventListener("click", function () { dialog.close("cancel"); });
    ok.addEventListener("click", function () {
      var form = pendingForm;
      dialog.close("ok");
      if (form) {
        form.dataset.confirmed = "1";
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    });
    dialog.addEventListener("close", function () {
      pendingForm = null;
      document.dispatchEvent(new CustomEvent("confirm-dialog:closed"));
    });
    return dialog;
  }

  function countFor(form) {
    var name = form.getAttribute("data-confirm-count");
    if (!name) { return null; }
    var selector = 'input[name="' + name + '"]:checked';
    var inside = form.querySelectorAll(selector).length;
    var outside = form.id ? document.querySelectorAll(selector + '[form="' + form.id + '"]').length : 0;
    return inside + outside;
  }

  function askFirst(form) {
    var message = form.getAttribute("data-confirm");
    var count = countFor(form);
    if (count === 0) {
      var status = form.querySelector("[data-bulk-status]");
      if (status) { status.textContent = form.getAttribute("data-confirm-empty") || ""; }
      return;
    }
    if (count !== null) { message = message.replace("{n}", String(count)); }
    var d = dialog || buildDialog();
    d.querySelector("#confirm-dialog-text").textContent = message;
    d.querySelector("[data-dialog-ok]").textContent =
      form.getAttribute("data-confirm-button") || "OK";
    pendingForm = form;
    d.showModal();
    d.querySelector("[data-dialog-ok]").focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.hasAttribute("data-confirm") && form.dataset.confirmed !== "1") {
      event.preventDefault();
      askFirst(form);
      return;
    }
    if ((form.method || "").toLowerCase() === "post") {
      // Disable after the browser has collected the submitter's value.
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
          b.disabled = true;
        });
      }, 0);
    }
  });

  // Clear a stale "select something" hint once something is selected.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.form && input.form.querySelector) {
      var status = input.form.querySelector("[data-bulk-status]");
      if (status) { status.textContent = ""; }
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/login/") !== -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });

  // Pages may show or hide parts of a form by a choice (e.g. the kind of an added stage).
  function syncToggles(root) {
    (root || document).querySelectorAll("[data-show-when]").forEach(function (block) {
      var spec = block.getAttribute("data-show-when").split("=");
      var field = document.getElementsByName(spec[0]);
      var value = null;
      field.forEach(function (f) {
        if ((f.type === "radio" && f.checked) || (f.tagName === "SELECT")) { value = f.value; }
      });
      var wanted = spec[1].split("|");
      block.hidden = value !== null && wanted.indexOf(value) === -1;
    });
  }
  document.addEventListener("change", function () { syncToggles(); });
  // Back/forward cache: a page restored after a post must be usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-confirmed]").forEach(function (f) {
      delete f.dataset.confirmed;
    });
    document.querySelectorAll("button[disabled]").forEach(function (b) { b.disabled = false; });
  });
  document.addEventListener("DOMContentLoaded", function () { syncToggles(); });
})();
