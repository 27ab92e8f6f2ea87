// Keeps the console's live parts fresh: every element with data-refresh="<url>" is fetched
// again every data-every seconds and its content replaced. Without this script the pages
// still work; they are just as fresh as their last load.
"use strict";
(function () {
  function refresh(element) {
    var every = Math.max(1, Number(element.getAttribute("data-every") || "5")) * 1000;
    function tick() {
      fetch(element.getAttribute("data-refresh"), { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          element.innerHTML = html;
          element.setAttribute("data-refreshed", new Date().toISOString());
        })
        .catch(function () { element.setAttribute("data-stale", "1"); })
        .then(function () { window.setTimeout(tick, every); });
    }
    window.setTimeout(tick, every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
  });
})();
