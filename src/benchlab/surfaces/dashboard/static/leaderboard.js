// Leaderboard: models × benchmarks (newest finished run of each pair) with intervals, and the
// reference baselines (shipped with source and date, or set in Setup).
import { el, getJSON, loadPlotly, pct, plotlyText, table } from "./util.js";

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
  const cell = (entry) => entry
    ? el("td", { dataset: { run: entry.run_id } }, el("strong", {}, pct(entry.accuracy.rate)),
      el("div", { class: "muted" }, `[${pct(entry.accuracy.ci_low)}–${pct(entry.accuracy.ci_high)}] n=${entry.accuracy.n}`))
    : el("td", { class: "muted" }, "–");
  if (!benchmarks.length) {
    main.append(el("p", { class: "muted" }, "No finished runs yet."));
  } else {
    main.append(el("section", { class: "card" }, table(["model", ...benchmarks], [
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
    if (await loadPlotly()) {
      const traces = [...byModel.entries()].map(([model, cells]) => {
        const rows = benchmarks.map((b) => cells.get(b));
        return { type: "bar", name: plotlyText(model ?? "?"), x: benchmarks.map(plotlyText),
          y: rows.map((r) => r ? r.accuracy.rate : null),
          error_y: { type: "data", symmetric: false, array: rows.map((r) => r ? r.accuracy.ci_high - r.accuracy.rate : null),
            arrayminus: rows.map((r) => r ? r.accuracy.rate - r.accuracy.ci_low : null) } };
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
