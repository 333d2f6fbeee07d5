// pollhub console: the only script. Keeps an events page up to date by fetching its rows
// and chart every few seconds. Everything works without it; it only saves pressing reload.
"use strict";

(function () {
  const INTERVAL_MS = 3000;

  function startLiveTable(table) {
    const url = table.dataset.liveUrl;
    const status = document.getElementById("live-status");
    let busy = false;

    async function refresh() {
      // Replacing rows under the keyboard focus would throw the user's place away.
      if (busy || document.hidden || table.contains(document.activeElement)) return;
      busy = true;
      try {
        const response = await fetch(url, {
          headers: { Accept: "text/html" },
          credentials: "same-origin",
        });
        if (response.redirected || !response.ok) {
          // Signed out or the instance is gone: the full page says which.
          window.location.reload();
          return;
        }
        const holder = document.createElement("template");
        holder.innerHTML = await response.text();
        const chart = holder.content.querySelector("#live-chart");
        const currentChart = document.getElementById("live-chart");
        if (chart && currentChart && chart.innerHTML !== currentChart.innerHTML) {
          currentChart.replaceWith(chart);
        }
        const rows = holder.content.querySelector("tbody");
        const current = table.querySelector("tbody");
        if (rows && current && rows.innerHTML !== current.innerHTML) {
          const before = current.dataset.total;
          current.replaceWith(rows);
          if (status && rows.dataset.total !== before) {
            status.textContent = `${rows.dataset.total} callback(s); updated ${new Date().toLocaleTimeString()}.`;
          }
        }
      } catch (error) {
        if (status) status.textContent = "Live updates paused: pollhub is not answering.";
      } finally {
        busy = false;
      }
    }

    window.setInterval(refresh, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table[data-live-url]").forEach(startLiveTable);
    const summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });
})();
