// Control: fetch benchmarks, start/stop a server, launch/stop runs, and chat with the model at hand.
import { el, errorBox, getJSON, navigate, send, table, when } from "./util.js";

function field(label, control) { return el("label", {}, label, control); }

export async function render(main) {
  const { benchmarks } = await getJSON("/api/benchmarks");
  main.append(el("h2", {}, "Control"));
  const message = el("div", { id: "control-message" });
  const say = (node) => message.replaceChildren(node);

  // --- fetch ---
  const fetchKey = el("select", { name: "fetch-key" }, benchmarks.filter((k) => k !== "sample").map((k) => el("option", { value: k }, k)));
  const fetchForm = el("form", { class: "filters", id: "fetch-form" }, field("benchmark", fetchKey),
    el("button", { type: "submit" }, "Fetch"));
  fetchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(el("p", { class: "muted" }, `fetching ${fetchKey.value}…`));
    try { const r = await send("POST", "/api/fetch", { key: fetchKey.value }); say(el("p", { class: "good" }, `${r.key}: ${r.rows} rows ready`)); }
    catch (error) { say(errorBox(error)); }
  });

  // --- server ---
  const kind = el("select", { name: "server-kind" }, ["smoke", "gguf", "command"].map((k) => el("option", { value: k }, k === "smoke" ? "smoke model" : k === "gguf" ? "GGUF file" : "command line")));
  const target = el("input", { name: "server-target", placeholder: "path.gguf or a command line", size: 40 });
  const port = el("input", { name: "server-port", type: "number", placeholder: "port (free one)" });
  const serverForm = el("form", { class: "filters", id: "server-form" }, field("server", kind), field("model file / command", target),
    field("port", port), el("button", { type: "submit" }, "Start server"));
  serverForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(el("p", { class: "muted" }, "starting the server…"));
    const body = { kind: kind.value, port: port.value || null };
    if (kind.value === "gguf") body.gguf = target.value; else if (kind.value === "command") body.command = target.value;
    try {
      const child = await send("POST", "/api/servers", body);
      if (child.url) { serverUrl.value = child.url; chatServer.value = child.url; }
      say(el("p", { class: "good" }, `server ${child.id} started${child.url ? ` at ${child.url}` : ""}`));
    } catch (error) { say(errorBox(error)); }
    refresh();
  });

  // --- run ---
  const runKey = el("select", { name: "run-benchmark" }, benchmarks.map((k) => el("option", { value: k }, k)));
  const serverUrl = el("input", { name: "run-server", placeholder: "http://127.0.0.1:8080", size: 28 });
  const count = el("input", { name: "run-n", type: "number", min: 1, placeholder: "all" });
  const tag = el("input", { name: "run-tag", placeholder: "tag (optional)" });
  const runForm = el("form", { class: "filters", id: "run-form" }, field("benchmark", runKey), field("server", serverUrl),
    field("questions (-n)", count), field("tag", tag), el("button", { type: "submit" }, "Launch run"));
  runForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const child = await send("POST", "/api/launch", { benchmark: runKey.value, server: serverUrl.value || null,
        n: count.value || null, tag: tag.value || null });
      say(el("p", { class: "good" }, `run ${child.id} launched`));
    } catch (error) { say(errorBox(error)); }
    refresh();
  });

  // --- processes ---
  const processes = el("div", { id: "processes" });
  async function stop(id) {
    try { await send("POST", `/api/processes/${encodeURIComponent(id)}/stop`); } catch (error) { say(errorBox(error)); }
    refresh();
  }
  async function refresh() {
    try {
      const data = await getJSON("/api/processes");
      processes.replaceChildren(data.processes.length ? table(["id", "what", "command", "started", "state", "output", ""],
        data.processes.map((p) => el("tr", { dataset: { process: p.id, running: String(p.running) } },
          el("td", {}, p.id), el("td", {}, `${p.kind}: ${p.label}`), el("td", {}, el("code", {}, p.command)),
          el("td", {}, when(p.started_at)),
          el("td", { class: "state" }, p.running ? "running" : `exited (${p.returncode})`),
          el("td", {}, el("pre", { class: "output" }, p.output.slice(-600))),
          el("td", {}, p.running ? el("button", { class: "secondary stop", onclick: () => stop(p.id) }, "Stop") : null))))
        : el("p", { class: "muted" }, "Nothing started from here yet."));
    } catch (error) { processes.replaceChildren(errorBox(error)); }
  }

  // --- chat ---
  const chatServer = el("input", { name: "chat-server", placeholder: "server URL (default: configured)", size: 28 });
  const chatInput = el("textarea", { name: "chat-input", rows: 3, cols: 60, placeholder: "Say something to the model" });
  const chatLog = el("div", { class: "chat-log", id: "chat-log" });
  const history = [];
  const chatForm = el("form", { id: "chat-form" }, el("div", { class: "filters" }, field("server", chatServer)), chatInput, " ",
    el("button", { type: "submit" }, "Send"));
  chatForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chatInput.value.trim()) return;
    history.push({ role: "user", content: chatInput.value });
    chatLog.append(el("div", { class: "message user" }, el("div", { class: "role" }, "you"), el("pre", {}, chatInput.value)));
    chatInput.value = "";
    try {
      const answer = await send("POST", "/api/chat", { server: chatServer.value || null, messages: history });
      history.push({ role: "assistant", content: answer.content });
      chatLog.append(el("div", { class: "message assistant" }, el("div", { class: "role" }, `${answer.model} · ${Math.round(answer.timings.e2e * 1000)} ms`),
        answer.reasoning ? el("pre", { class: "reasoning muted" }, answer.reasoning) : null, el("pre", { class: "chat-answer" }, answer.content || "(empty)")));
    } catch (error) { history.pop(); chatLog.append(errorBox(error)); }
  });

  main.append(message,
    el("section", { class: "card" }, el("h3", {}, "Benchmarks"), fetchForm),
    el("section", { class: "card" }, el("h3", {}, "Model server"), serverForm),
    el("section", { class: "card" }, el("h3", {}, "Runs"), runForm,
      el("p", { class: "muted" }, "Launched runs appear on the ", el("a", { href: "/live", "data-link": true }, "Live"), " page.")),
    el("section", { class: "card" }, el("h3", {}, "Processes started here"), processes),
    el("section", { class: "card" }, el("h3", {}, "Chat"), chatLog, chatForm));
  await refresh();
  const timer = setInterval(refresh, 1500);
  return () => clearInterval(timer);
}
