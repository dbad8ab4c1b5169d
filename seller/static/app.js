// Seller Desk: what htmx does not do by itself. No framework, no network beyond this server.
(function () {
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
    say("The server answered " + e.detail.xhr.status + ". Nothing was changed; try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    say("No connection to the server. Check the network, then try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    say("The server took too long to answer. Reload the page to see whether it was done.");
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
  // Uploads (order reports): a <progress> in the form shows how much of the file has been sent.
  document.addEventListener("htmx:xhr:progress", function (e) {
    var box = e.target.querySelector && e.target.querySelector("[data-upload-progress]");
    if (!box || !e.detail.lengthComputable || !e.detail.total) return;
    var bar = box.querySelector("progress"), done = Math.round(e.detail.loaded / e.detail.total * 100);
    box.hidden = false;
    bar.value = Math.max(bar.value, done);
    box.querySelector(".upload-status").textContent = bar.value < 100 ? "Uploading… " + bar.value + " %"
      : "Uploaded. Checking and importing the orders…";
  });
})();
