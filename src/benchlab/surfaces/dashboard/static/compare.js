// Compare: the paired significance card (the numbers of `benchlab compare --json`) and breakdowns.
import { el, errorBox, getJSON, kvTable, pct, table } from "./util.js";

function num(field, value, text) {
  // data-value carries the exact number so that what the page shows can be checked against the CLI.
  return el("span", { dataset: { field, value: value === null || value === undefined ? "" : String(value) } }, text);
}

function pvalue(p) {
  return p < 0.001 ? p.toExponential(2) : p.toFixed(4);
}

function card(data) {
  const c = data.card;
  const verdict = c.significant
    ? el("strong", { class: "good" }, "significant at 5%")
    : el("strong", { class: "warn" }, "not significant at 5%");
  return el("section", { class: "card", id: "compare-card" },
    el("h3", {}, `${c.benchmark}: ${c.a.tag} (A) vs ${c.b.tag} (B)`), verdict,
    kvTable([
      ["A", el("span", {}, `${c.a.run_id} · ${c.a.model ?? "?"} · accuracy `, num("accuracy_a", c.a.accuracy, pct(c.a.accuracy)))],
      ["B", el("span", {}, `${c.b.run_id} · ${c.b.model ?? "?"} · accuracy `, num("accuracy_b", c.b.accuracy, pct(c.b.accuracy)))],
      ["paired questions", num("n_pairs", c.n_pairs, String(c.n_pairs))],
      ["left out (infra / rejected)", num("excluded", c.excluded, String(c.excluded))],
      ["both right · both wrong", el("span", {}, num("both_correct", c.both_correct, String(c.both_correct)), " · ",
        num("both_wrong", c.both_wrong, String(c.both_wrong)))],
      ["discordant: only A right", num("only_a", c.only_a, String(c.only_a))],
      ["discordant: only B right", num("only_b", c.only_b, String(c.only_b))],
      ["difference B − A (95% CI)", el("span", {}, num("difference", c.difference, pct(c.difference)), " [",
        num("ci_low", c.ci_low, pct(c.ci_low)), " – ", num("ci_high", c.ci_high, pct(c.ci_high)), "]")],
      ["exact McNemar p", num("p_value", c.p_value, pvalue(c.p_value))],
      ["power", c.power_note ? num("required_n", c.required_n, c.power_note) : "–"],
    ]),
    c.notes.length ? el("ul", { class: "muted" }, c.notes.map((note) => el("li", {}, note))) : null);
}

function breakdown(title, rows, id) {
  if (!rows.length) return null;
  return el("section", { class: "card", id }, el("h3", {}, title),
    table(["", "pairs", "A", "B", "only A", "only B", "B − A (95% CI)", "p"], rows.map((row) => row.error
      ? el("tr", {}, el("td", {}, row.name), el("td", { colspan: 7, class: "bad" }, row.error))
      : el("tr", {}, el("td", {}, row.name), el("td", {}, row.n_pairs), el("td", {}, pct(row.accuracy_a)),
        el("td", {}, pct(row.accuracy_b)), el("td", {}, row.only_a), el("td", {}, row.only_b),
        el("td", {}, `${pct(row.difference)} [${pct(row.ci_low)} – ${pct(row.ci_high)}]`),
        el("td", { class: row.significant ? "good" : "" }, pvalue(row.p_value))))));
}

export async function render(main, _parts, query) {
  const facets = await getJSON("/api/runs/facets");
  const recent = await getJSON("/api/runs?limit=100");
  const choices = el("datalist", { id: "run-choices" },
    facets.tag.map((tag) => el("option", { value: tag }, "tag")),
    recent.runs.map((run) => el("option", { value: run.run_id }, `${run.benchmark} · ${run.model ?? "?"}`)));
  const inputA = el("input", { name: "a", list: "run-choices", placeholder: "run id or tag", value: query.get("a") || "" });
  const inputB = el("input", { name: "b", list: "run-choices", placeholder: "run id or tag", value: query.get("b") || "" });
  const result = el("div", { id: "compare-result" });
  const form = el("form", { class: "filters", id: "compare-form" }, choices, el("label", {}, "A", inputA),
    el("label", {}, "B", inputB), el("button", { type: "submit" }, "Compare"));
  main.append(el("h2", {}, "Compare"), form, result);
  async function run() {
    if (!inputA.value || !inputB.value) return;
    history.replaceState({}, "", `/compare?${new URLSearchParams({ a: inputA.value, b: inputB.value })}`);
    result.replaceChildren(el("p", { class: "muted" }, "comparing…"));
    try {
      const data = await getJSON(`/api/compare?${new URLSearchParams({ a: inputA.value, b: inputB.value })}`);
      result.replaceChildren(card(data), breakdown("By benchmark (newest run of each tag)", data.by_benchmark, "by-benchmark") || "",
        breakdown("By subject", data.by_subject, "by-subject") || "");
    } catch (error) { result.replaceChildren(errorBox(error)); }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
  await run();
  return null;
}
