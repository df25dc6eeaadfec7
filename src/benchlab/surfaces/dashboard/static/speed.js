// A speed run's page: its headline, the client's figures beside the server's own (with the gap), and
// the profile's charts drawn with Plotly from the stored summary (the same figures `benchlab speed
// --plot` draws with matplotlib).
import { el, kvTable, loadPlotly, pct, table, tile } from "./util.js";

const PERCENTILES = [["p50", "solid"], ["p90", "dash"], ["p99", "dot"]];
const CONFIG = { displayModeBar: false, responsive: true };

const msText = (s) => (s === null || s === undefined ? "–" : `${Math.round(s * 1000)} ms`);
const tokText = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(1)} tok/s`);
const p = (entry, key) => (entry ? entry[key] ?? null : null);
const toMs = (s) => (s === null || s === undefined ? null : s * 1000);
const gapText = (gap) => (gap === null || gap === undefined ? "–" : `${gap >= 0 ? "+" : ""}${pct(gap)}`);

// The groups of a profile, each with the label of its x position.
function groups(summary) {
  switch (summary.profile) {
    case "quick": return Object.entries(summary.sizes || {}).map(([name, g]) => ({ x: name, g }));
    case "context": return (summary.lengths || []).map((g) => ({ x: g.prompt_tokens ?? g.target_tokens, g }));
    case "concurrency": return (summary.levels || []).map((g) => ({ x: g.level, g }));
    case "rate": return (summary.rates || []).map((g) => ({ x: g.rate, g }));
    default: return [];
  }
}

const AXIS = {
  quick: { title: "prompt size", type: "category" },
  context: { title: "prompt tokens", type: "linear" },
  concurrency: { title: "requests in flight", type: "log" },
  rate: { title: "offered requests per second", type: "linear" },
};

function layout(summary, yTitle, x, extra = {}) {
  const axis = AXIS[summary.profile] || { title: "", type: "linear" };
  // On a log axis Plotly would pick 2-5-10 ticks; the measured levels are the ticks that matter.
  const ticks = axis.type === "log" ? { tickvals: x, ticktext: x.map(String) } : {};
  return { margin: { t: 30, r: 10, b: 45, l: 60 }, height: 320, legend: { orientation: "h", y: -0.25 },
    xaxis: { title: { text: axis.title }, type: axis.type, ...ticks },
    yaxis: { title: { text: yTitle }, rangemode: "tozero" }, ...extra };
}

// Every figure: [id, title, traces, layout]. Percentile lines (TTFT, decode, E2E), throughput with the
// knee, and client against server for decode and prefill.
export function speedFigures(summary) {
  const rows = groups(summary);
  const x = rows.map((r) => r.x);
  const figures = [];
  const percentileTraces = (metric, name, scale = toMs) => PERCENTILES.map(([q, dash]) => ({
    type: "scatter", mode: "lines+markers", name: `${name} ${q}`, x, line: { dash },
    y: rows.map((r) => scale(p(r.g[metric], q))) }));
  if (!rows.length) return figures;
  figures.push(["speed-ttft", "Time to first token (client)", percentileTraces("ttft_s", "TTFT"), layout(summary, "ms", x)]);
  figures.push(["speed-decode", "Decode rate per request: client vs server", [
    ...percentileTraces("decode_tok_s", "client", (v) => v),
    { type: "scatter", mode: "lines+markers", name: "server (median)", x, line: { color: "#d9822b", width: 3 },
      y: rows.map((r) => p(r.g.server, "decode_rate")) },
  ], layout(summary, "tokens/s", x)]);
  figures.push(["speed-latency", "End-to-end latency", percentileTraces("e2e_s", "E2E"), layout(summary, "ms", x)]);
  if (summary.profile === "concurrency" || summary.profile === "rate") {
    const knee = summary.knee;
    const shapes = knee !== null && knee !== undefined && summary.profile === "concurrency"
      ? [{ type: "line", x0: knee, x1: knee, yref: "paper", y0: 0, y1: 1, line: { color: "#c23030", dash: "dash" } }] : [];
    // Annotations on a log axis take the exponent (shapes take the value itself).
    const annotations = shapes.length ? [{ x: Math.log10(knee), yref: "paper", y: 1, text: `knee at ${knee}`, showarrow: false,
      yanchor: "bottom", font: { color: "#c23030" } }] : [];
    figures.push(["speed-throughput", "Aggregate throughput", [
      { type: "scatter", mode: "lines+markers", name: "output tokens/s", x, y: rows.map((r) => r.g.output_tok_s ?? null) },
    ], layout(summary, "output tokens/s", x, { shapes, annotations })]);
  }
  if (summary.profile === "context" || summary.profile === "quick") {
    const tokens = rows.map((r) => r.g.prompt_tokens ?? r.g.target_tokens);
    figures.push(["speed-prefill", "Prefill against context: client vs server", [
      { type: "scatter", mode: "lines+markers", name: "client: prompt tokens / TTFT p50", x: tokens,
        y: rows.map((r) => r.g.naive_client_prefill_tok_s ??
          (r.g.prompt_tokens && p(r.g.ttft_s, "p50") ? r.g.prompt_tokens / p(r.g.ttft_s, "p50") : null)) },
      { type: "scatter", mode: "lines+markers", name: "server prefill rate", x: tokens, line: { color: "#d9822b" },
        y: rows.map((r) => p(r.g.server, "prefill_rate")) },
    ], layout({ profile: "context" }, "prefill tokens/s", tokens)]);
  }
  return figures;
}

function headlineTiles(summary) {
  const h = summary.headline || {};
  const score = summary.speed_score;
  return el("div", { class: "tiles", id: "speed-headline" },
    tile("decode", tokText(h.decode_tok_s ?? null), "p50, one request at a time", { dataset: { field: "decode" } }),
    tile("TTFT", msText(h.ttft_s ?? null), "p50", { dataset: { field: "ttft" } }),
    tile("prefill", tokText(h.prefill_tok_s ?? null), "slope of TTFT over prompt length", { dataset: { field: "prefill" } }),
    h.output_tok_s !== undefined ? tile("throughput", tokText(h.output_tok_s), `best aggregate${h.best_level ? ` at ${h.best_level} in flight` : ""}`) : null,
    summary.knee !== undefined && summary.knee !== null ? tile("knee", `${summary.knee} in flight`, "90% of the best throughput") : null,
    score ? tile("speed score", score.value.toFixed(0), `${score.endpoint} reference = 100`, { dataset: { field: "speed-score" } }) : null,
    tile("requests", `${summary.requests ?? 0}`, `${summary.warmup ?? 0} warm-up · ${summary.failures ?? 0} failed`));
}

// Client and server side by side, with the gap (client relative to server).
function gapTable(summary) {
  const rows = groups(summary);
  const body = rows.map(({ x, g }) => el("tr", {},
    el("td", {}, String(x)), el("td", {}, String(g.requests ?? 0)),
    el("td", {}, tokText(p(g.decode_tok_s, "p50"))), el("td", {}, tokText(p(g.server, "decode_rate"))),
    el("td", { class: "gap" }, gapText(g.decode_gap)),
    el("td", {}, msText(p(g.ttft_s, "p50"))),
    el("td", {}, p(g.server, "prompt_ms") === null ? "–" : `${Math.round(g.server.prompt_ms)} ms`),
    el("td", {}, tokText(p(g.server, "prefill_rate")))));
  const parts = [table(["group", "n", "client decode p50", "server decode", "gap", "client TTFT p50",
    "server prompt time", "server prefill"], body, { id: "speed-gap" })];
  const byDifference = summary.prefill_by_difference;
  if (byDifference) {
    parts.push(kvTable([["prefill by difference (client)", tokText(byDifference.client_tok_s ?? null)],
      ["prefill by difference (server)", tokText(byDifference.server_tok_s ?? null)],
      ["gap", gapText(byDifference.gap)]], { id: "speed-prefill-gap" }));
  }
  return el("section", { class: "card" }, el("h3", {}, "Client vs server"),
    el("p", { class: "muted" }, "The gap is the client's figure relative to the server's own: network, streaming and template overhead."),
    parts);
}

export function speedSection(run) {
  const summary = run.summary || {};
  const figures = speedFigures(summary);
  const boxes = figures.map(([id]) => el("div", { class: "chart speed-chart", id }));
  const section = el("section", { id: "speed" }, el("h3", {}, `Speed · ${summary.profile ?? "?"} profile`),
    headlineTiles(summary), gapTable(summary),
    (summary.notes || []).length ? el("ul", { class: "warn", id: "speed-notes" }, summary.notes.map((n) => el("li", {}, n))) : null,
    el("div", { class: "chart-grid" }, boxes.map((box, i) => el("section", { class: "card" }, el("h3", {}, figures[i][1]), box))));
  const draw = async () => {
    if (!(await loadPlotly())) return;
    figures.forEach(([, , traces, figureLayout], i) => window.Plotly.newPlot(boxes[i], traces, figureLayout, CONFIG));
  };
  return { section, draw };
}
