// Seller Desk: what htmx does not do by itself. No framework, no network beyond this server, nothing inline
// (the Content-Security-Policy allows scripts from this file only). Every page works without it.
(function () {
  document.documentElement.classList.add("js");

  // The page's words for what this file says, in the page's language (the <body>'s data-say-* attributes).
  function words(name, values) {
    var text = document.body.getAttribute("data-say-" + name) || "";
    Object.keys(values || {}).forEach(function (key) { text = text.replace("{" + key + "}", values[key]); });
    return text;
  }
  function say(text) {
    var area = document.getElementById("flash");
    if (!area) return;
    area.innerHTML = "";
    var div = document.createElement("div");
    div.className = "flash flash-error";
    div.setAttribute("role", "alert");
    div.textContent = text;
    area.appendChild(div);
  }
  // Answers htmx does not swap (a proxy's 502, a crash): say so instead of showing nothing.
  document.addEventListener("htmx:responseError", function (e) {
    say(words("status", {status: e.detail.xhr.status}));
  });
  document.addEventListener("htmx:sendError", function () {
    say(words("offline"));
  });
  document.addEventListener("htmx:timeout", function () {
    say(words("timeout"));
  });

  function editable(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function selectScanField(scope) {
    var field = (scope || document).querySelector("[data-scan-target]");
    if (field) { field.focus(); field.select(); }
    return field;
  }

  document.addEventListener("keydown", function (e) {
    // Escape closes the form open in a panel (its Close puts the row back).
    if (e.key === "Escape") {
      var panel = e.target.closest && e.target.closest("[data-panel]");
      var close = panel && panel.querySelector("[data-close]");
      if (close) { e.preventDefault(); close.click(); }
      return;
    }
    // A barcode scanner types like a keyboard: what is typed while nothing editable has focus goes to the page's
    // scan field (Search orders), replacing what it held, so every scan lands there.
    if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1 || e.key === " " || editable(e.target)) return;
    selectScanField();
  });

  // Where focus goes after a swap: a list swapped by a tab keeps it on that tab; any other list swap selects the
  // scan field, so the next scan replaces the last one. (Forms and rows carry autofocus, which htmx honours.)
  var fromTab = false;
  document.addEventListener("htmx:beforeRequest", function (e) {
    fromTab = !!(e.detail.elt.closest && e.detail.elt.closest(".tabs"));
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "orders-list") return;
    var tab = fromTab && target.querySelector('.tabs [aria-current="page"]');
    if (tab) tab.focus(); else selectScanField(target);
    fold(target);
  });

  // Tablets: dates and sort fold behind Filters unless one of them is in use.
  function fold(scope) {
    if (window.innerWidth >= 1200) return;
    (scope || document).querySelectorAll('details[data-fold="tablet"]').forEach(function (d) { d.open = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { fold(); });

  // Phones: the header's links behind Menu.
  document.addEventListener("click", function (e) {
    var menu = e.target.closest("[data-menu]");
    if (menu) {
      var open = menu.closest(".topbar").classList.toggle("open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    var dismiss = e.target.closest("[data-dismiss]");
    if (dismiss) dismiss.closest(".flash").remove();
  });

  // A success message leaves by itself after a while; warnings and errors stay until dismissed.
  function fade(scope) {
    (scope || document).querySelectorAll(".flash-success, .flash-info").forEach(function (flash) {
      setTimeout(function () { flash.remove(); }, 8000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { fade(); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { if (e.detail.target.id === "flash") fade(e.detail.target); });

  // Confirm shipment: the carrier a scanned tracking ID names, chosen as it is typed (the server decides the same
  // from the same formats when the form is sent). A carrier picked by hand stays.
  document.addEventListener("input", function (e) {
    var field = e.target.closest && e.target.closest("[data-carrier-formats]");
    var box = field && field.closest("fieldset.package");  // a package's own Carrier (Confirm shipment)
    var select = box ? box.querySelector("select[name$=carrier]") : field && field.form && field.form.elements.carrier;
    if (!select || select.dataset.chosen) return;
    var formats = JSON.parse(field.getAttribute("data-carrier-formats"));
    var id = field.value.replace(/[\s-]+/g, "").toUpperCase();
    var found = Object.keys(formats).filter(function (c) { return new RegExp("^(?:" + formats[c] + ")$").test(id); });
    select.value = found.length === 1 ? found[0] : "";
  });
  document.addEventListener("change", function (e) {
    if (/(^|-)carrier$/.test(e.target.name)) e.target.dataset.chosen = "1";
  });

  // A plain (non-htmx) form marked data-submit-once sends one submission: a double click on
  // "Submit Full Refund" is one request (the idempotency key would catch a second one anyway).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-submit-once") || form.hasAttribute("hx-post")) return;
    if (form.getAttribute("data-submitting")) { e.preventDefault(); return; }
    form.setAttribute("data-submitting", "1");
  });
  window.addEventListener("pageshow", function () {  // back to a page kept in the browser's cache
    document.querySelectorAll("form[data-submitting]").forEach(function (f) { f.removeAttribute("data-submitting"); });
  });
  // Check boxes: "select all" in a table header.
  document.addEventListener("change", function (e) {
    var all = e.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll(all.getAttribute("data-select-all")).forEach(function (box) {
      box.checked = all.checked;
    });
  });
  // Pack & ship: a scan field keeps its text selected (the next scan replaces it); the same code sent again within
  // 150 ms is the scanner reading twice and is not sent (the server counts it once as well); a refusal flashes red
  // and sounds a short low tone (made here with Web Audio: no sound file).
  var lastScan = {value: null, at: 0};
  document.addEventListener("submit", function (e) {
    var field = e.target.querySelector && e.target.querySelector(".scan-field input");
    if (!field || !e.target.closest("#pack")) return;
    var now = Date.now();
    if (field.value === lastScan.value && now - lastScan.at < 150) {
      e.preventDefault();
      e.stopPropagation();
      return;
    }
    lastScan = {value: field.value, at: now};
    setTimeout(function () { field.select(); }, 0);
  }, true);
  var audio = null;
  function buzz() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime;
      tone.type = "square";
      tone.frequency.setValueAtTime(180, t);
      gain.gain.setValueAtTime(0.15, t);
      gain.gain.exponentialRampToValueAtTime(0.001, t + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(t);
      tone.stop(t + 0.25);
    } catch (err) { /* no sound on this device: the red flash and the text still say it */ }
  }
  function packed(pack) {
    if (!pack) return;
    var label = pack.querySelector("[data-open-label]:not([data-opened])");
    if (label) { label.setAttribute("data-opened", ""); window.open(label.href, "_blank"); }  // to print it
    var focused = pack.querySelector("[autofocus]");
    if (focused) { focused.focus(); if (focused.select) focused.select(); }
    if (pack.querySelector("[data-refusal]")) {
      pack.classList.remove("flash-refused");
      void pack.offsetWidth;  // restart the animation
      pack.classList.add("flash-refused");
      buzz();
    }
  }
  document.addEventListener("DOMContentLoaded", function () { packed(document.getElementById("pack")); });
  document.addEventListener("htmx:afterSettle", function () { packed(document.getElementById("pack")); });

  // Uploads (order reports, tracking files): a <progress> in the form shows how much of the file has been sent,
  // then (no figure: the server is at work) what is being done. Its words come from the page (data-sending,
  // data-working), in the page's language. A form sent without upload figures (Confirm shipments) shows the same.
  function working(box) {
    var bar = box.querySelector("progress");
    box.hidden = false;
    bar.removeAttribute("value");  // indeterminate: the server is at work
    box.querySelector(".upload-status").textContent = box.dataset.working || words("uploaded");
  }
  document.addEventListener("htmx:xhr:progress", function (e) {
    var box = e.target.querySelector && e.target.querySelector("[data-upload-progress]");
    if (!box || !e.detail.lengthComputable || !e.detail.total) return;
    var bar = box.querySelector("progress"), done = Math.round(e.detail.loaded / e.detail.total * 100);
    if (done >= 100) { working(box); return; }
    box.hidden = false;
    bar.value = Math.max(bar.value, done);
    box.querySelector(".upload-status").textContent = box.dataset.sending ? box.dataset.sending + " " + bar.value + " %"
      : words("uploading", {percent: bar.value});
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var box = e.target.querySelector && e.target.querySelector("[data-upload-progress][data-working]");
    if (box && !e.target.querySelector("input[type=file]")) working(box);
  });
})();
