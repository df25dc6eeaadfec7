// Setup: the display title and the reference baselines (saved under BENCHLAB_HOME/dashboard.json).
import { el, errorBox, getJSON, send, table } from "./util.js";

const FIELDS = ["label", "benchmark", "value", "source", "date"];

export async function render(main) {
  const data = await getJSON("/api/setup");
  const title = el("input", { name: "title", value: data.title, size: 40 });
  const body = el("tbody", { id: "baseline-rows" });
  const message = el("div", { id: "setup-message" });
  function addRow(entry = {}) {
    const inputs = FIELDS.map((name) => el("input", { name, value: entry[name] ?? "", size: name === "source" ? 40 : 12,
      type: name === "value" ? "number" : "text", step: name === "value" ? "0.001" : undefined }));
    const row = el("tr", {}, inputs.map((input) => el("td", {}, input)),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => row.remove() }, "remove")));
    body.append(row);
  }
  data.user.baselines.forEach(addRow);
  const form = el("form", { id: "setup-form" },
    el("div", { class: "filters" }, el("label", {}, "display title", title)),
    el("h3", {}, "Your baselines (override shipped ones with the same label and benchmark)"),
    el("table", {}, el("thead", {}, el("tr", {}, [...FIELDS, ""].map((h) => el("th", {}, h)))), body),
    el("p", {}, el("button", { type: "button", class: "secondary", onclick: () => addRow() }, "Add baseline"), " ",
      el("button", { type: "submit" }, "Save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const baselines = [...body.querySelectorAll("tr")].map((row) => {
      const entry = {};
      for (const input of row.querySelectorAll("input")) entry[input.name] = input.name === "value" ? Number(input.value) : input.value;
      return entry;
    });
    try {
      const saved = await send("PUT", "/api/setup", { title: title.value, baselines });
      document.getElementById("title").textContent = saved.title;
      document.title = saved.title;
      message.replaceChildren(el("p", { class: "good" }, "saved"));
    } catch (error) { message.replaceChildren(errorBox(error)); }
  });
  main.append(el("h2", {}, "Setup"), message, form, el("h3", {}, "Shipped baselines"),
    table(["label", "benchmark", "value", "source", "date"], data.baselines.filter((b) => b.origin === "shipped").map((b) =>
      el("tr", {}, FIELDS.map((name) => el("td", {}, String(b[name])))))));
  return null;
}
