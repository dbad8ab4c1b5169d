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
  // An action's panel under a list row (refunds, returns): Close empties it instead of reloading the page.
  document.addEventListener("click", function (e) {
    var link = e.target.closest("[data-close-panel]");
    var panel = link && document.getElementById(link.getAttribute("data-close-panel"));
    if (!panel) return;
    e.preventDefault();
    panel.innerHTML = "";
    panel.hidden = true;
  });
  // Check boxes: "select all" in a table header.
  document.addEventListener("change", function (e) {
    var all = e.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll(all.getAttribute("data-select-all")).forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
