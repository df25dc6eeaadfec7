// Host metrics: the `host` section of a run's summary (spread of CPU, memory, swap and the local
// server's memory) and the `host_samples` event the runner stores (one sample every interval,
// thinned to at most 600), drawn over the run's time. Other `*metrics*` events show as tables.
import { el, kvTable, loadPlotly } from "./util.js";

const GB = 1024 ** 3;
const gb = (bytes) => (bytes === null || bytes === undefined ? "–" : `${(bytes / GB).toFixed(2)} GB`);

function spread(entry, format) {
  if (!entry) return "–";
  return `mean ${format(entry.mean)} · max ${format(entry.max)}`;
}

export function hostSummaryRows(host) {
  const rows = [
    ["CPU", spread(host.cpu_percent, (v) => `${v.toFixed(0)}%`) + (host.cpu_count ? ` of ${host.cpu_count} cores` : "")],
    ["memory used", spread(host.memory_used_bytes, gb) + (host.memory_total_bytes ? ` of ${gb(host.memory_total_bytes)}` : "")],
    ["swap used", spread(host.swap_used_bytes, gb)],
  ];
  if (host.server_rss_bytes) rows.push(["server memory (RSS)", spread(host.server_rss_bytes, gb)]);
  if (host.server_cpu_percent) rows.push(["server CPU", spread(host.server_cpu_percent, (v) => `${v.toFixed(0)}%`)]);
  rows.push(["samples", `${host.samples ?? 0} every ${host.interval_s ?? "?"} s`]);
  if (host.note) rows.push(["note", host.note]);
  return rows;
}

function hostTraces(samples) {
  const t = samples.map((s) => s.t);
  const traces = [
    { type: "scatter", mode: "lines", name: "CPU %", x: t, y: samples.map((s) => s.cpu_percent ?? null) },
    { type: "scatter", mode: "lines", name: "memory used (GB)", x: t, yaxis: "y2",
      y: samples.map((s) => (s.memory_used_bytes ?? null) === null ? null : s.memory_used_bytes / GB) },
  ];
  if (samples.some((s) => s.server_rss_bytes !== undefined)) {
    traces.push({ type: "scatter", mode: "lines", name: "server RSS (GB)", x: t, yaxis: "y2",
      y: samples.map((s) => (s.server_rss_bytes ?? null) === null ? null : s.server_rss_bytes / GB) });
    traces.push({ type: "scatter", mode: "lines", name: "server CPU %", x: t, line: { dash: "dot" },
      y: samples.map((s) => s.server_cpu_percent ?? null) });
  }
  return traces;
}

// The host card: summary rows, a chart of the samples over time, and other metrics events as tables.
// Returns { section, draw } (draw once the section is in the page).
export function hostSection(host, metrics) {
  const samples = metrics?.host_samples?.samples || [];
  const others = Object.entries(metrics || {}).filter(([kind]) => kind !== "host_samples");
  const chart = samples.length ? el("div", { class: "chart", id: "host-chart" }) : null;
  const section = el("section", { class: "card", id: "host-metrics" }, el("h3", {}, "Host and server metrics"),
    host ? kvTable(hostSummaryRows(host), { id: "host-summary" }) : null,
    chart,
    !samples.length && !host ? el("p", { class: "muted" }, "Host samples are stored when the run ends.") : null,
    others.map(([kind, values]) => [el("strong", {}, kind), kvTable(Object.entries(values))]));
  const draw = async () => {
    if (!chart || !(await loadPlotly())) return;
    window.Plotly.react(chart, hostTraces(samples), {
      margin: { t: 10, r: 60, b: 40, l: 50 }, height: 260, legend: { orientation: "h", y: -0.3 },
      xaxis: { title: { text: "seconds into the run" } }, yaxis: { title: { text: "%" }, rangemode: "tozero" },
      yaxis2: { title: { text: "GB" }, overlaying: "y", side: "right", rangemode: "tozero" },
    }, { displayModeBar: false, responsive: true });
  };
  return { section, draw };
}
