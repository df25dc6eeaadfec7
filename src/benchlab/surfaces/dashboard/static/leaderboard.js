// Leaderboard: models × benchmarks (newest finished run of each pair) with intervals, and the
// reference baselines (shipped with source and date, or set in Setup). Each benchmark's column is
// labelled with its headline figure (accuracy, rubric mean, weighted score, field score, tok/s …).
import { el, getJSON, headlineValue, loadPlotly, pct, plotlyText, table } from "./util.js";

export async function render(main) {
  const data = await getJSON("/api/leaderboard");
  main.append(el("h2", {}, `${data.title} leaderboard`));
  const benchmarks = [...new Set(data.entries.map((e) => e.benchmark))].sort();
  const byModel = new Map();
  for (const entry of data.entries) {
    if (!byModel.has(entry.model)) byModel.set(entry.model, new Map());
    byModel.get(entry.model).set(entry.benchmark, entry);
  }
  const baselines = data.baselines.filter((b) => benchmarks.includes(b.benchmark));
  const labels = [...new Set(baselines.map((b) => b.label))];
  // One label per column: the headline of the benchmark's runs (they share a task kind).
  const labelOf = new Map();
  for (const entry of data.entries) if (!labelOf.has(entry.benchmark)) labelOf.set(entry.benchmark, entry.headline);
  const shares = benchmarks.filter((b) => labelOf.get(b).unit === "share");
  const cell = (entry) => {
    if (!entry) return el("td", { class: "muted" }, "–");
    const h = entry.headline;
    const interval = h.low !== null && h.low !== undefined && h.unit === "share" ? `[${pct(h.low)}–${pct(h.high)}] ` : "";
    return el("td", { dataset: { run: entry.run_id, metric: h.metric } }, el("strong", {}, headlineValue(h)),
      h.label !== labelOf.get(entry.benchmark).label ? el("div", { class: "muted" }, h.label) : null,
      el("div", { class: "muted" }, `${interval}n=${h.n ?? "?"}`));
  };
  const header = (b) => el("span", {}, b, el("div", { class: "muted metric-label" }, labelOf.get(b).label));
  if (!benchmarks.length) {
    main.append(el("p", { class: "muted" }, "No finished runs yet."));
  } else {
    main.append(el("section", { class: "card" }, table(["model", ...benchmarks.map(header)], [
      ...[...byModel.entries()].map(([model, cells]) => {
        const note = [...cells.values()].find((entry) => entry.note)?.note;
        return el("tr", {}, el("td", {}, model ?? "?", note ? el("div", { class: "warn", title: note }, "smoke model: chance by design") : null),
          benchmarks.map((b) => cell(cells.get(b))));
      }),
      ...labels.map((label) => el("tr", { class: "baseline" }, el("td", {}, el("em", {}, `${label} (reference)`)),
        benchmarks.map((b) => {
          const found = baselines.find((x) => x.label === label && x.benchmark === b);
          return found ? el("td", { title: `${found.source} (${found.date})` }, el("em", {}, pct(found.value)))
            : el("td", { class: "muted" }, "–");
        }))),
    ], { id: "leaderboard" })));
    const chart = el("div", { class: "chart", id: "leaderboard-chart" });
    main.append(el("section", { class: "card" }, chart));
    if (shares.length && await loadPlotly()) {
      // Shares only (0–100%), each bar named by its benchmark and figure; tokens per second stay in the table.
      const names = shares.map((b) => plotlyText(`${b} · ${labelOf.get(b).label}`));
      const traces = [...byModel.entries()].filter(([, cells]) => shares.some((b) => cells.has(b))).map(([model, cells]) => {
        const rows = shares.map((b) => cells.get(b)?.headline);
        return { type: "bar", name: plotlyText(model ?? "?"), x: names,
          y: rows.map((h) => h ? h.value : null),
          error_y: { type: "data", symmetric: false, array: rows.map((h) => h && h.high !== null ? h.high - h.value : null),
            arrayminus: rows.map((h) => h && h.low !== null ? h.value - h.low : null) } };
      });
      window.Plotly.newPlot(chart, traces, { barmode: "group", margin: { t: 10, r: 10, b: 40, l: 45 },
        yaxis: { range: [0, 1], tickformat: ".0%" } }, { displayModeBar: false, responsive: true });
    }
  }
  main.append(el("h3", {}, "Reference baselines"), table(["label", "benchmark", "value", "source", "date", "from"],
    data.baselines.map((b) => el("tr", {}, el("td", {}, b.label), el("td", {}, b.benchmark), el("td", {}, pct(b.value)),
      el("td", {}, b.source), el("td", {}, b.date), el("td", {}, b.origin))), { id: "baselines" }));
  main.append(el("p", { class: "muted" }, "Published figures use their own prompts and shot counts; they are context, not paired comparisons."));
  return null;
}
