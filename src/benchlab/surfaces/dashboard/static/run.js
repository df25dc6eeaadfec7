// One run: summary, provenance, exports, and the per-sample drill-down (paged and filtered in SQL).
import { hostSection } from "./host.js";
import { speedSection } from "./speed.js";
import { el, errorBox, getJSON, headlineText, kvTable, ms, outcome, pct, rateText, table, tile, when } from "./util.js";

const PAGE = 50;

// Summary keys drawn elsewhere on the page (speed charts, host card, grid) or too bulky for a table row.
const SHOWN_ELSEWHERE = new Set(["by_subject", "host", "levels", "rates", "lengths", "sizes", "grid", "headline",
  "speed_score", "by_instruction", "lm_eval_metrics"]);

function summaryTiles(summary, headline) {
  const entries = [];
  // Kinds ranked by another figure keep an `accuracy` field for old readers (a chart's mean score,
  // a tool call's full marks): the headline card names it; an unlabelled copy here would mislead.
  const hideAccuracy = headline && headline.metric !== "accuracy";
  for (const [key, value] of Object.entries(summary)) {
    if (SHOWN_ELSEWHERE.has(key) || (hideAccuracy && key === "accuracy")) continue;
    if (value && typeof value === "object" && "k" in value && "n" in value) {
      entries.push([key.replaceAll("_", " "), `${rateText(value)} (${value.k}/${value.n})`]);
    } else if (value && typeof value === "object" && "mean" in value && "ci_low" in value) {
      entries.push([key.replaceAll("_", " "), `${rateText(value)} (n ${value.n}, mean)`]);
    } else if (value && typeof value === "object" && "p50" in value) {
      const rate = key.endsWith("per_s") || key.endsWith("tok_s");  // tokens per second, not seconds
      const scale = key.endsWith("_s") && !rate ? ms : (x) => x.toFixed(1);
      entries.push([key.replaceAll("_", " "), `p50 ${scale(value.p50)} · p90 ${scale(value.p90)}`]);
    } else if (value === null || typeof value !== "object") {
      entries.push([key.replaceAll("_", " "), value === null ? "–" : String(value)]);
    } else {
      // Anything else a task or the host-metrics recorder adds (token counts, letter bias, host load).
      entries.push([key.replaceAll("_", " "), JSON.stringify(value)]);
    }
  }
  return kvTable(entries, { id: "run-summary" });
}

function bySubject(summary, headline) {
  const subjects = summary.by_subject;
  if (!subjects || !Object.keys(subjects).length) return null;
  const label = headline?.label ?? "accuracy";
  return el("section", { class: "card", id: "by-subject" }, el("h3", {}, "By subject"),
    table(["subject", `${label} (95% CI)`, "n"], Object.entries(subjects).map(([name, rate]) =>
      el("tr", {}, el("td", {}, name), el("td", {}, rateText(rate)),
        el("td", {}, rate.k !== undefined ? `${rate.k} / ${rate.n}` : `${rate.n}`)))));
}

// The headline figure under its own label (a rubric mean is never called an accuracy), then the rows
// that explain it.
function headlineCard(detail) {
  const h = detail.headline;
  const rows = detail.kind_rows || [];
  if (!h && !rows.length) return null;
  return el("section", { class: "card", id: "run-headline" },
    h ? el("div", { class: "tiles" }, tile(h.label, headlineText(h),
      [h.interval ? `${h.interval}` : null, h.n ? `n ${h.n}` : null].filter(Boolean).join(" · "),
      { id: "headline-tile", dataset: { metric: h.metric ?? "" } })) : null,
    rows.length ? kvTable(rows, { id: "kind-figures" }) : null);
}

// Long context: accuracy by haystack length (rows) and needle depth (columns).
function gridCard(grid) {
  if (!grid) return null;
  return el("section", { class: "card" }, el("h3", {}, "Accuracy by length × depth"),
    table(["length (tokens)", ...grid.depths.map((d) => `depth ${d}%`)], grid.lengths.map((length, i) =>
      el("tr", {}, el("td", {}, length), grid.rates[i].map((value, j) => {
        const [k, n] = grid.counts[i][j];
        return el("td", { class: value === null ? "muted" : "" }, value === null ? "–" : `${pct(value, 0)} (${k}/${n})`);
      }))), { id: "length-depth-grid" }));
}

function toolCalls(calls) {
  return (calls || []).map((call) => {
    const fn = call.function || call;
    return el("div", { class: "tool-call" }, el("span", { class: "role" }, `tool call → ${fn.name ?? "?"}`),
      el("pre", {}, typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments, null, 2)));
  });
}

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part.text ?? JSON.stringify(part)).join("\n");
  return JSON.stringify(content);
}

function messageView(message) {
  return el("div", { class: `message ${message.role}` },
    el("div", { class: "role" }, message.role + (message.name ? ` (${message.name})` : "") +
      (message.tool_call_id ? ` · result of ${message.tool_call_id}` : "")),
    message.content !== undefined && message.content !== null ? el("pre", {}, contentText(message.content)) : null,
    toolCalls(message.tool_calls));
}

function completionView(completion, index) {
  return el("div", { class: "message assistant" },
    el("div", { class: "role" }, `completion ${index + 1} · ${completion.finish_reason ?? "?"}`),
    completion.reasoning ? [el("div", { class: "muted" }, "reasoning"), el("pre", { class: "reasoning" }, completion.reasoning)] : null,
    el("div", { class: "muted" }, "answer"), el("pre", { class: "completion-content" }, completion.content || "(empty)"),
    toolCalls(completion.tool_calls),
    completion.tool_parse_error ? el("div", { class: "bad" }, `tool-call parse error: ${completion.tool_parse_error}`) : null,
    kvTable([["time to first token", ms(completion.timings.ttft)], ["end to end", ms(completion.timings.e2e)],
      ["decode rate", completion.timings.decode_rate ? `${completion.timings.decode_rate.toFixed(1)} tok/s` : "–"],
      ["tokens (prompt / completion)", `${completion.usage.prompt_tokens ?? "?"} / ${completion.usage.completion_tokens ?? "?"}`],
      ["attempts", completion.attempts]]));
}

async function sampleDetail(runId, sampleId) {
  const sample = await getJSON(`/api/runs/${encodeURIComponent(runId)}/samples/${encodeURIComponent(sampleId)}`);
  const score = sample.score;
  const transcript = sample.transcript || { messages: [], completions: [] };
  return el("section", { class: "card", id: "sample-detail", dataset: { sample: sample.sample_id } },
    el("h3", {}, `Sample ${sample.sample_id}`),
    el("div", { class: "split" },
      el("div", {}, el("h3", {}, "Conversation"), transcript.messages.map(messageView),
        el("h3", {}, "Completions"), transcript.completions.map(completionView)),
      el("div", {}, el("h3", {}, "Score"),
        kvTable([["outcome", outcome({ error_kind: score.error_kind, correct: score.correct })],
          ["extracted answer", score.extracted ?? "–"], ["gold", score.gold ?? "–"], ["value", score.value],
          ["error", score.error ?? "–"], ["attempts", sample.attempts], ["finished", when(sample.finished_at)]],
        { id: "score-table" }),
        el("h3", {}, "Score breakdown and extraction"), kvTable(Object.entries(score.details || {}), { id: "score-details" }),
        Object.keys(transcript.state || {}).length ? [el("h3", {}, "Task state"), kvTable(Object.entries(transcript.state))] : null,
        sample.artifacts.map(({ key, kind }) => {
          const src = `/artifact/${encodeURIComponent(runId)}/${encodeURIComponent(sample.sample_id)}/${encodeURIComponent(key)}`;
          // Model-written HTML: sandboxed without same-origin rights, and served with a sandboxing CSP.
          // A screenshot is a PNG: an image element cannot run anything.
          return kind === "page"
            ? [el("h3", {}, `Saved chart: ${key}`), el("iframe", { class: "artifact", sandbox: "allow-scripts", referrerpolicy: "no-referrer", src })]
            : [el("h3", {}, `Screenshot: ${key}`), el("img", { class: "artifact-image", alt: `screenshot of the chart (${key})`, src })];
        }))));
}

export async function render(main, [runId], query) {
  const detail = await getJSON(`/api/runs/${encodeURIComponent(runId)}`);
  const run = detail.run;
  const base = `/api/runs/${encodeURIComponent(runId)}`;
  main.append(el("h2", {}, `Run ${run.run_id}`),
    el("p", {}, `${run.benchmark} · ${run.endpoint.model ?? "?"} · tag ${run.tag} · `,
      el("strong", { id: "run-status" }, run.status), run.status_reason ? ` (${run.status_reason})` : "",
      " · ", el("a", { href: `/live?run=${encodeURIComponent(runId)}`, "data-link": true }, "live view")),
    run.note ? el("p", { class: "warn", id: "model-note" }, run.note) : "",
    el("p", {}, el("a", { href: `${base}/export.json`, download: `${runId}.json`, id: "export-json" }, el("button", { class: "secondary" }, "Export JSON")), " ",
      el("a", { href: `${base}/export.csv`, download: `${runId}.csv`, id: "export-csv" }, el("button", { class: "secondary" }, "Export CSV"))),
    headlineCard(detail) || "",
    el("div", { class: "split" },
      el("section", { class: "card" }, el("h3", {}, "Summary"), summaryTiles(run.summary, detail.headline)),
      el("section", { class: "card" }, el("h3", {}, "Provenance"), kvTable([
        ["endpoint", run.endpoint.base_url], ["server", `${run.endpoint.server_kind} ${run.endpoint.server_version ?? ""}`],
        ["parameters", run.params], ["task options", run.task_options], ["dataset", run.provenance.dataset_path ?? "–"],
        ["dataset sha256", run.provenance.dataset_sha256], ["rows", run.provenance.dataset_rows],
        ["benchlab", `${run.provenance.benchlab_version} ${run.provenance.git_sha ?? ""}`],
        ["python", run.provenance.python], ["host", run.provenance.host], ["command", run.provenance.command ?? "–"],
        ["started", when(run.created_at)], ["finished", when(run.finished_at)]], { id: "provenance" }))),
    gridCard(detail.grid) || "", bySubject(run.summary, detail.headline) || "");
  const drawings = [];
  if (run.task_kind === "speed") {
    const speed = speedSection(run);
    main.append(speed.section);
    drawings.push(speed.draw);
  }
  if (run.summary.host || Object.keys(detail.metrics || {}).length) {
    const host = hostSection(run.summary.host, detail.metrics);
    main.append(host.section);
    drawings.push(host.draw);
  }
  for (const draw of drawings) draw();

  const outcomeSelect = el("select", { name: "outcome" }, ["", "correct", "wrong", "unparseable", "infra", "rejected"]
    .map((value) => el("option", { value }, value || "(any)")));
  const subjectSelect = el("select", { name: "subject" }, el("option", { value: "" }, "(any)"),
    detail.subjects.map((value) => el("option", { value }, value)));
  const search = el("input", { type: "search", name: "q", placeholder: "sample id or answer" });
  const tableBox = el("div", { id: "samples-table" });
  const pager = el("div", { class: "pager" });
  const detailBox = el("div", { id: "detail-box" });
  main.append(el("h3", {}, "Samples"),
    el("form", { class: "filters", id: "sample-filters", onsubmit: (e) => e.preventDefault() },
      el("label", {}, "outcome", outcomeSelect), el("label", {}, "subject", subjectSelect), el("label", {}, "search", search)),
    tableBox, pager, detailBox);

  let offset = 0;
  async function show(sampleId) {
    try {
      detailBox.replaceChildren(await sampleDetail(runId, sampleId));
      detailBox.scrollIntoView({ block: "start" });
    } catch (error) { detailBox.replaceChildren(errorBox(error)); }
  }
  async function load() {
    const params = new URLSearchParams({ offset, limit: PAGE });
    if (outcomeSelect.value) params.set("outcome", outcomeSelect.value);
    if (subjectSelect.value) params.set("subject", subjectSelect.value);
    if (search.value) params.set("q", search.value);
    try {
      const page = await getJSON(`${base}/samples?${params}`);
      tableBox.replaceChildren(table(["#", "sample", "subject", "answer", "gold", "outcome", "score", "latency", "attempts"],
        page.samples.map((row) => el("tr", { class: "clickable", dataset: { sample: row.sample_id }, onclick: () => show(row.sample_id) },
          el("td", {}, row.seq + 1), el("td", {}, row.sample_id), el("td", {}, row.subject ?? "–"),
          el("td", { class: "answer" }, row.extracted ?? "–"), el("td", {}, row.gold ?? "–"), el("td", {}, outcome(row)),
          el("td", { class: "score" }, row.value === null || row.value === undefined ? "–" : String(Math.round(row.value * 1000) / 1000)),
          el("td", {}, ms(row.latency)), el("td", {}, row.attempts)))));
      pager.replaceChildren(
        el("button", { class: "secondary", disabled: offset === 0, onclick: () => { offset -= PAGE; load(); } }, "◀ previous"),
        el("span", { id: "samples-range" }, `${page.total ? offset + 1 : 0}–${Math.min(offset + PAGE, page.total)} of ${page.total}`),
        el("button", { class: "secondary", id: "samples-next", disabled: offset + PAGE >= page.total,
          onclick: () => { offset += PAGE; load(); } }, "next ▶"));
    } catch (error) { tableBox.replaceChildren(errorBox(error)); }
  }
  for (const control of [outcomeSelect, subjectSelect]) control.addEventListener("change", () => { offset = 0; load(); });
  let typing = null;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { offset = 0; load(); }, 250); });
  await load();
  if (query.get("sample")) await show(query.get("sample"));
  return null;
}
