// plumbline dashboard: live updates by server-sent events, and pause countdowns. No framework, no build.
// Without JavaScript every page still shows everything (it is rendered by the server); it just does
// not update by itself.
"use strict";
(function () {
  function countdowns() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.dataset.until) - now) / 1000));
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = (m >= 60 ? Math.floor(m / 60) + "h " + (m % 60) + "m" : m + "m " + s + "s") + " left";
    });
  }
  function live(el, target, onChange) {
    if (!window.EventSource) return;
    var source = new EventSource(el.dataset.live);
    source.addEventListener(target, function (event) { onChange(event.data); countdowns(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    countdowns();
    setInterval(countdowns, 1000);
    var table = document.querySelector("table[data-live]");
    if (table) {
      live(table, "rows", function (html) { document.getElementById("live-rows").innerHTML = html; });
    }
    var summary = document.getElementById("live-summary");
    if (summary) {
      var first = true; // the stream starts with the summary as it is now: news only after that
      live(summary, "summary", function (html) {
        summary.innerHTML = html;
        var stale = document.getElementById("stale");
        if (stale && !first) stale.hidden = false;
        first = false;
      });
    }
  });
})();
