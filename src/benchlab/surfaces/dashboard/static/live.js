// Live: follows one run through server-sent events (the browser reconnects by itself and the server
// resumes after the Last-Event-ID it sends). The feed shows newest first and keeps the last 500 rows.
import { hostSection } from "./host.js";
import { el, getJSON, loadPlotly, ms, navigate, outcome, pct, rateText, tile } from "./util.js";

const FEED_LIMIT = 500;
// What the running share of `correct` samples means for each kind while it runs (the headline of
// kinds with partial credit — a rubric mean, a weighted score — is computed when the run ends).
const LIVE_LABEL = { toolcall: "full marks", agent: "solved", extract: "all fields right", chart: "perfect charts",
  instruct: "prompt-level strict", code: "passed" };

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
  const label = LIVE_LABEL[run.task_kind] ?? "accuracy";
  const tiles = el("div", { class: "tiles", id: "live-tiles" });
  const chart = el("div", { class: "chart", id: "live-chart" });
  const metrics = el("div", { id: "live-metrics" });
  const feedBody = el("tbody", { id: "feed" });
  main.append(tiles, el("section", { class: "card" }, chart), metrics,
    el("h3", {}, "Samples as they finish"),
    el("table", {}, el("thead", {}, el("tr", {}, ["#", "sample", "question", "answer", "gold", "outcome", "latency"]
      .map((h) => el("th", {}, h)))), feedBody));

  // Running accuracy with its Wilson interval: the run's history (sampled by the server), then one
  // point per stats event. The feed starts with the newest rows, so a long run opens at once.
  const trend = { x: [], y: [], low: [], high: [] };
  let plotted = false;
  let pending = null;
  function addPoint(point) {
    if (!point.accuracy.n || point.recorded <= (trend.x[trend.x.length - 1] ?? 0)) return;
    trend.x.push(point.recorded); trend.y.push(point.accuracy.rate);
    trend.low.push(point.accuracy.ci_low); trend.high.push(point.accuracy.ci_high);
  }
  function drawChart() {
    pending = null;
    if (!window.Plotly || !trend.x.length) return;
    const traces = [
      { x: trend.x, y: trend.high, mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x: trend.x, y: trend.low, mode: "lines", fill: "tonexty", line: { width: 0 }, name: "95% interval",
        fillcolor: "rgba(47,111,223,0.15)" },
      { x: trend.x, y: trend.y, mode: "lines", name: `running ${label}`, line: { color: "#2f6fdf" } },
    ];
    const layout = { margin: { t: 10, r: 10, b: 35, l: 45 }, yaxis: { range: [0, 1], tickformat: ".0%" },
      xaxis: { title: { text: "samples recorded" } }, legend: { orientation: "h" } };
    window.Plotly[plotted ? "react" : "newPlot"](chart, traces, layout, { displayModeBar: false, responsive: true });
    plotted = true;
  }
  function scheduleChart() { pending ??= setTimeout(drawChart, 300); }
  function showStats(stats) {
    const rubric = run.task_kind === "rubric";  // a share of points per sample, never right or wrong
    const speed = run.task_kind === "speed";  // requests: finished or failed, never right or wrong
    const failed = stats.infra + stats.rejected + stats.unparseable;
    tiles.replaceChildren(
      rubric ? tile("rubric mean so far", pct(stats.mean_value), "mean share of points of the samples scored; the interval comes at the end",
        { dataset: { field: "rubric-mean" } }) :
      speed ? tile("requests finished", stats.recorded ? pct((stats.recorded - failed) / stats.recorded) : "–",
        `${stats.recorded - failed} of ${stats.recorded} (figures and charts on the run page)`, { dataset: { field: "requests-ok" } }) :
      tile(label, pct(stats.accuracy.rate), `95% CI ${rateText(stats.accuracy)} · ${stats.accuracy.k}/${stats.accuracy.n}`,
        { dataset: { field: "accuracy" } }),
      tile("recorded", `${stats.recorded} / ${run.planned}`, null, { dataset: { field: "recorded" } }),
      tile("throughput", stats.per_second ? `${stats.per_second.toFixed(2)}/s` : "–",
        stats.recent_per_second ? `last 30 s: ${stats.recent_per_second.toFixed(2)}/s` : null),
      tile("unparseable", String(stats.unparseable)),
      tile("infra errors", String(stats.infra)),
      tile("rejected", String(stats.rejected)),
    );
    if (rubric || speed) return;
    addPoint(stats);
    scheduleChart();
  }
  function showMetrics(payload, host) {
    const section = hostSection(host, payload);
    metrics.replaceChildren(section.section);
    section.draw();
  }
  for (const point of (await getJSON(`/api/runs/${encodeURIComponent(runId)}/trend`)).points) addPoint(point);
  showStats(detail.tally);
  loadPlotly().then(scheduleChart);
  let host = run.summary.host;
  let openedRunning = run.status === "running";
  showMetrics(detail.metrics, host);

  const after = Math.max(-1, detail.tally.recorded - FEED_LIMIT - 1);  // seq of the last row not shown
  const source = new EventSource(`/api/live/${encodeURIComponent(runId)}/events?after=${after}`);
  source.addEventListener("sample", (event) => {
    const row = JSON.parse(event.data);
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
  source.addEventListener("metrics", (event) => showMetrics(JSON.parse(event.data), host));
  source.addEventListener("status", async (event) => {
    const value = JSON.parse(event.data).status;
    // A run that ends while watched writes its host summary and samples as it finishes: fetch them
    // once. (A run that had already ended when the page opened came with them.)
    if (openedRunning && value !== "running" && !host) {
      openedRunning = false;
      let finished = await getJSON(`/api/runs/${encodeURIComponent(runId)}`);
      if (!finished.metrics.host_samples) {  // stored just after the record: look once more
        await new Promise((resolve) => setTimeout(resolve, 1500));
        finished = await getJSON(`/api/runs/${encodeURIComponent(runId)}`);
      }
      host = finished.run.summary.host;
      showMetrics(finished.metrics, host);
    }
    status.textContent = value; status.dataset.status = value;
  });
  source.addEventListener("end", () => source.close());
  return () => source.close();
}
