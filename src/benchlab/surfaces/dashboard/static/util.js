// Shared helpers. Every piece of text reaches the page through text nodes (never innerHTML), so model
// output, tags and ids always render as text.

export const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

export class ApiError extends Error {}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : { error: await response.text() };
  if (!response.ok) throw new ApiError(body.error || `HTTP ${response.status}`);
  return body;
}

export async function getJSON(url) {
  return parse(await fetch(url, { credentials: "same-origin" }));
}

export async function send(method, url, body) {
  return parse(await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
    body: JSON.stringify(body ?? {}),
  }));
}

// el("td", {class: "good", dataset: {field: "p"}}, "text", otherNode)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function pct(value, digits = 1) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(digits)}%`;
}

export function rateText(rate) {
  if (!rate || !rate.n) return "–";
  // rate() entries carry `rate`; bootstrap means (rubric) carry `mean`.
  return `${pct(rate.rate ?? rate.mean)} [${pct(rate.ci_low)}–${pct(rate.ci_high)}]`;
}

// A run's headline figure (from the server's headline.py): its value in its own unit.
export function headlineValue(h) {
  if (!h || h.value === null || h.value === undefined) return "–";
  if (h.unit === "share") return pct(h.value);
  if (h.unit === "tok/s") return `${h.value.toFixed(1)} tok/s`;
  return String(Math.round(h.value * 1000) / 1000);
}

export function headlineText(h) {
  if (!h || h.value === null || h.value === undefined) return "–";
  const interval = h.low !== null && h.low !== undefined && h.unit === "share" ? ` [${pct(h.low)}–${pct(h.high)}]` : "";
  return `${headlineValue(h)}${interval}`;
}

export function ms(seconds) {
  return seconds === null || seconds === undefined ? "–" : `${Math.round(seconds * 1000)} ms`;
}

export function when(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleString() : "–";
}

export function outcome(row) {
  if (row.error_kind === "infra") return el("span", { class: "warn" }, "infra error");
  if (row.error_kind === "rejected") return el("span", { class: "warn" }, "rejected");
  if (row.error_kind === "model") return el("span", { class: "bad" }, "unparseable");
  // Kinds without right/wrong per sample (speed requests, partial-credit scores) carry a null `correct`.
  if (row.correct === null || row.correct === undefined) return el("span", { class: "muted" }, "✓ done");
  return row.correct ? el("span", { class: "good" }, "✓ correct") : el("span", { class: "bad" }, "✗ wrong");
}

export function table(headers, rows, attrs = {}) {
  return el("table", attrs, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

export function kvTable(entries, attrs = {}) {
  return el("table", { class: "kv", ...attrs }, el("tbody", {}, entries.map(([k, v]) =>
    el("tr", {}, el("td", {}, k), el("td", {}, typeof v === "object" && v !== null && !(v instanceof Node)
      ? JSON.stringify(v) : v)))));
}

export function tile(label, value, sub, attrs = {}) {
  return el("div", { class: "tile", ...attrs }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value), sub ? el("div", { class: "sub" }, sub) : null);
}

export function errorBox(error) {
  return el("div", { class: "error-box", role: "alert" }, error.message || String(error));
}

export function navigate(path) {
  history.pushState({}, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

// Plotly is large (several MB): only the pages that draw charts load it, and only once.
let plotly = null;
export function loadPlotly() {
  plotly ??= new Promise((resolve) => {
    const script = el("script", { src: "/vendor/plotly.min.js" });
    script.addEventListener("load", () => resolve(window.Plotly));
    script.addEventListener("error", () => resolve(null));  // no chart library: tables still work
    document.head.append(script);
  });
  return plotly;
}

// Plotly reads `<b>`-style markup in labels; names come from servers, so escape them for it.
export function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
