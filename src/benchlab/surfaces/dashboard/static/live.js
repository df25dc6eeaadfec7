// Live: follows one run through server-sent events (the browser reconnects by itself and the server
// resumes after the Last-Event-ID it sends). The feed shows newest first and keeps the last 500 rows.
import { el, getJSON, kvTable, loadPlotly, ms, navigate, outcome, pct, rateText, tile } from "./util.js";

const FEED_LIMIT = 500;

export async function render(main, _parts, query) {
  const runId = query.get("run") || (await getJSON("/api/live/latest")).run_id;
  main.append(el("h2", {}, "Live"));
  if (!runId) {
    main.append(el("p", { class: "muted" }, "No runs yet. Start one with `benchlab run sample --server URL` or from Control."));
    return null;
  }
  const detail = await getJSON(`/api/runs/${encodeURIComponent(runId)}`);
  const run = detail.run;
  const status = el("span", { id: "live-status", dataset: { status: run.status } }, run.status);
  main.append(el("p", {},
    el("a", { href: `/run/${encodeURIComponent(runId)}`, "data-link": true }, run.run_id), " · ",
    run.benchmark, " · ", run.endpoint.model || "?", " · status ", status),
    run.note ? el("p", { class: "warn", id: "model-note" }, run.note) : "");
  const tiles = el("div", { class: "tiles", id: "live-tiles" });
  const chart = el("div", { class: "chart", id: "live-chart" });
  const metrics = el("div", { id: "live-metrics" });
  const feedBody = el("tbody", { id: "feed" });
  main.append(tiles, el("section", { class: "card" }, chart), metrics,
    el("h3", {}, "Samples as they finish"),
    el("table", {}, el("thead", {}, el("tr", {}, ["#", "sample", "question", "answer", "gold", "outcome", "latency"]
      .map((h) => el("th", {}, h)))), feedBody));

  // The line is the running accuracy after each scored sample; the band is the Wilson interval the
  // server computes with every stats event.
  const line = { x: [], y: [], k: 0, n: 0, seen: 0 };
  const band = { x: [], low: [], high: [] };
  let plotted = false;
  let pending = null;
  function addSample(row) {
    line.seen += 1;
    if (row.error_kind !== "none" && row.error_kind !== "model") return;
    line.n += 1; line.k += row.correct ? 1 : 0;
    line.x.push(line.seen); line.y.push(line.k / line.n);
  }
  function addBand(stats) {
    if (!stats.accuracy.n || band.x[band.x.length - 1] === stats.recorded) return;
    band.x.push(stats.recorded); band.low.push(stats.accuracy.ci_low); band.high.push(stats.accuracy.ci_high);
  }
  function drawChart() {
    pending = null;
    if (!window.Plotly || !line.x.length) return;
    const traces = [
      { x: band.x, y: band.high, mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x: band.x, y: band.low, mode: "lines", fill: "tonexty", line: { width: 0 }, name: "95% interval",
        fillcolor: "rgba(47,111,223,0.15)" },
      { x: line.x, y: line.y, mode: "lines", name: "running accuracy", line: { color: "#2f6fdf" } },
    ];
    const layout = { margin: { t: 10, r: 10, b: 35, l: 45 }, yaxis: { range: [0, 1], tickformat: ".0%" },
      xaxis: { title: { text: "samples recorded" } }, legend: { orientation: "h" } };
    window.Plotly[plotted ? "react" : "newPlot"](chart, traces, layout, { displayModeBar: false, responsive: true });
    plotted = true;
  }
  function scheduleChart() { pending ??= setTimeout(drawChart, 300); }
  function showStats(stats) {
    tiles.replaceChildren(
      tile("accuracy", pct(stats.accuracy.rate), `95% CI ${rateText(stats.accuracy)} · ${stats.accuracy.k}/${stats.accuracy.n}`,
        { dataset: { field: "accuracy" } }),
      tile("recorded", `${stats.recorded} / ${run.planned}`, null, { dataset: { field: "recorded" } }),
      tile("throughput", stats.per_second ? `${stats.per_second.toFixed(2)}/s` : "–",
        stats.recent_per_second ? `last 30 s: ${stats.recent_per_second.toFixed(2)}/s` : null),
      tile("unparseable", String(stats.unparseable)),
      tile("infra errors", String(stats.infra)),
      tile("rejected", String(stats.rejected)),
    );
    addBand(stats);
    scheduleChart();
  }
  function showMetrics(payload) {
    metrics.replaceChildren(el("h3", {}, "Host and server metrics"),
      ...Object.entries(payload).map(([kind, values]) => el("section", { class: "card" }, el("strong", {}, kind),
        kvTable(Object.entries(values)))));
  }
  showStats(detail.tally);
  loadPlotly().then(scheduleChart);
  if (Object.keys(detail.metrics).length) showMetrics(detail.metrics);

  const source = new EventSource(`/api/live/${encodeURIComponent(runId)}/events`);
  source.addEventListener("sample", (event) => {
    const row = JSON.parse(event.data);
    addSample(row);
    scheduleChart();
    const tr = el("tr", { class: "clickable", dataset: { seq: row.seq },
      onclick: () => navigate(`/run/${encodeURIComponent(runId)}?sample=${encodeURIComponent(row.sample_id)}`) },
      el("td", {}, row.seq + 1), el("td", {}, row.sample_id),
      el("td", { title: row.question || "" }, (row.question || "").slice(0, 120)),
      el("td", { class: "answer" }, row.extracted ?? "–"), el("td", {}, row.gold ?? "–"),
      el("td", {}, outcome(row)), el("td", {}, ms(row.latency)));
    feedBody.prepend(tr);
    while (feedBody.childElementCount > FEED_LIMIT) feedBody.lastElementChild.remove();
  });
  source.addEventListener("stats", (event) => showStats(JSON.parse(event.data)));
  source.addEventListener("metrics", (event) => showMetrics(JSON.parse(event.data)));
  source.addEventListener("status", (event) => {
    const value = JSON.parse(event.data).status;
    status.textContent = value; status.dataset.status = value;
  });
  source.addEventListener("end", () => source.close());
  return () => source.close();
}
