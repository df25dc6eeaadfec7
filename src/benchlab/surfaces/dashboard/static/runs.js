// Runs: every run in the store, filtered and paged by the server (SQL), newest first.
import { el, errorBox, getJSON, headlineText, navigate, table, when } from "./util.js";

const PAGE = 50;

export async function render(main, _parts, query) {
  const facets = await getJSON("/api/runs/facets");
  main.append(el("h2", {}, "Runs"));
  const controls = {};
  const filters = el("form", { class: "filters", id: "run-filters" });
  for (const name of ["model", "benchmark", "tag", "status"]) {
    controls[name] = el("select", { name }, el("option", { value: "" }, "(any)"),
      facets[name].map((value) => el("option", { value }, value)));
    controls[name].value = query.get(name) || "";
    filters.append(el("label", {}, name, controls[name]));
  }
  for (const name of ["since", "until"]) {
    controls[name] = el("input", { type: "date", name });
    filters.append(el("label", {}, name === "since" ? "from" : "before", controls[name]));
  }
  const body = el("div", { id: "runs-table" });
  const pager = el("div", { class: "pager" });
  main.append(filters, body, pager);
  let offset = 0;

  async function load() {
    const params = new URLSearchParams({ offset, limit: PAGE });
    for (const [name, control] of Object.entries(controls)) {
      if (!control.value) continue;
      params.set(name, control.type === "date" ? String(Date.parse(control.value) / 1000) : control.value);
    }
    try {
      const page = await getJSON(`/api/runs?${params}`);
      body.replaceChildren(table(["run", "tag", "benchmark", "model", "status", "headline (95% CI)", "samples", "started"],
        page.runs.map((run) => el("tr", { class: "clickable", dataset: { run: run.run_id },
          onclick: () => navigate(`/run/${encodeURIComponent(run.run_id)}`) },
          el("td", {}, run.run_id), el("td", {}, run.tag), el("td", {}, run.benchmark), el("td", {}, run.model ?? "–"),
          el("td", {}, run.status), el("td", { class: "headline", dataset: { metric: run.headline?.metric ?? "" } },
            run.headline ? [el("span", { class: "muted" }, `${run.headline.label} `), headlineText(run.headline)] : "–"),
          el("td", {}, `${run.recorded} / ${run.planned ?? "?"}`), el("td", {}, when(run.created_at))))));
      pager.replaceChildren(
        el("button", { class: "secondary", disabled: offset === 0, onclick: () => { offset -= PAGE; load(); } }, "◀ newer"),
        el("span", {}, `${page.total ? offset + 1 : 0}–${Math.min(offset + PAGE, page.total)} of ${page.total}`),
        el("button", { class: "secondary", disabled: offset + PAGE >= page.total,
          onclick: () => { offset += PAGE; load(); } }, "older ▶"));
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  }
  filters.addEventListener("change", () => { offset = 0; load(); });
  await load();
  return null;
}
