// The single-page shell: picks the page module from the address and hands it the <main> element.
import { errorBox } from "./util.js";

const routes = [
  [/^\/(live)?$/, () => import("./live.js")],
  [/^\/runs$/, () => import("./runs.js")],
  [/^\/run\/([^/]+)$/, () => import("./run.js")],
  [/^\/compare$/, () => import("./compare.js")],
  [/^\/leaderboard$/, () => import("./leaderboard.js")],
  [/^\/control$/, () => import("./control.js")],
  [/^\/setup$/, () => import("./setup.js")],
];

let cleanup = null;

async function render() {
  const main = document.getElementById("page");
  if (cleanup) { cleanup(); cleanup = null; }
  main.replaceChildren();
  const path = location.pathname;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", path.startsWith(link.getAttribute("href")));
  }
  for (const [pattern, load] of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    try {
      const page = await load();
      cleanup = (await page.render(main, match.slice(1).map((part) => part && decodeURIComponent(part)),
        new URLSearchParams(location.search))) || null;
    } catch (error) {
      main.append(errorBox(error));
    }
    return;
  }
  main.append(errorBox(new Error(`no page at ${path}`)));
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.ctrlKey || event.metaKey) return;
  event.preventDefault();
  history.pushState({}, "", link.getAttribute("href"));
  render();
});
window.addEventListener("popstate", render);
render();
