// The dashboard's charts (Chart.js), drawn from the JSON the page carries (#chart-data), again after
// every htmx swap of the figures (switching the range).
(function () {
  "use strict";
  const drawn = [];

  function options(spec, stacked, locale) {
    return {
      animation: false, responsive: true, maintainAspectRatio: false, locale: locale,
      interaction: {mode: "index", intersect: false},
      scales: {
        x: {stacked: stacked, title: {display: true, text: spec.x}},
        y: {stacked: stacked, beginAtZero: true, title: {display: true, text: spec.y}},
      },
    };
  }

  function draw() {
    const source = document.getElementById("chart-data");
    if (!source || typeof Chart === "undefined") return;
    while (drawn.length) drawn.pop().destroy();
    const data = JSON.parse(source.textContent);
    const locale = document.documentElement.lang;
    drawn.push(new Chart(document.getElementById("runs-chart"), {
      type: "bar", data: {labels: data.runs.labels, datasets: data.runs.datasets},
      options: options(data.runs, true, locale),
    }));
    drawn.push(new Chart(document.getElementById("errors-chart"), {
      type: "line", data: {labels: data.errors.labels, datasets: data.errors.datasets},
      options: {...options(data.errors, false, locale), spanGaps: true},
    }));
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id === "figures") draw();
  });
})();
