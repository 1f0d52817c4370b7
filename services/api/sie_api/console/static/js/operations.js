// The operations page (admin key): /health per dependency, the backlog per priority, recent jobs,
// dead letters with a dry-run-first replay, and sources with "Sync now". Refreshed every few
// seconds while the tab is visible, without reloading the page or touching the forms.
import { api } from "./api.js";
import { deadLettersPanel } from "./dead-letters.js";
import { field, h, show, table, when } from "./dom.js";
import { panel } from "./panel.js";
import { sourcesPanel } from "./sources.js";

const REFRESH_MS = 5000;
const JOB_STATUSES = ["", "pending", "running", "done", "failed", "dead"];

function healthPanel() {
  return panel("health", "Health", async (body) => {
    const health = await api("/health", { acceptStatus: [503] });
    show(body,
      h("p", { id: "health-status", class: `badge health-${health.status}` }, `${health.status} · version ${health.version}`),
      h("dl", { class: "facts", id: "health-checks" }, Object.entries(health.checks).map(([name, state]) => [
        h("dt", {}, name), h("dd", { "data-check": name, class: state === "ok" || state === "in-process" ? "ok" : "bad" }, state),
      ])));
  });
}

function backlogPanel() {
  return panel("backlog", "Queue backlog", async (body) => {
    const answer = await api("/v1/queues");
    show(body, table("This tenant's unfinished jobs per priority", [
      ["Priority", (row) => row.priority],
      ["Queue", (row) => row.queue],
      ["Waiting", (row) => String(row.pending)],
      ["Running", (row) => String(row.running)],
    ], answer.backlog, { id: "backlog-table" }));
  });
}

function jobsPanel() {
  const status = h("select", { id: "jobs-status" },
    JOB_STATUSES.map((name) => h("option", { value: name }, name || "Any")));
  const section = panel("jobs", "Recent jobs", async (body) => {
    const answer = await api("/v1/jobs", { params: { status: status.value, limit: 10 } });
    show(body, table("The 10 newest jobs", [
      ["Created", (job) => when(job.created_at)],
      ["Status", (job) => h("span", { class: `badge status-${job.status}` }, job.status)],
      ["Attempts", (job) => String(job.attempts)],
      ["Queue", (job) => job.queue],
      ["Document", (job) => h("a", { href: `#/doc/${job.document_id}` }, job.document_id.slice(0, 8))],
      ["Error", (job) => job.error || "—"],
    ], answer.jobs, { id: "jobs-table" }));
  }, h("div", { class: "filters" }, field("Status", status)));
  status.addEventListener("change", () => section.load());
  return section;
}

export function renderOperations(container) {
  const updated = h("p", { class: "count", id: "ops-updated", "aria-live": "off" });
  const panels = [healthPanel(), backlogPanel(), jobsPanel(), deadLettersPanel(), sourcesPanel()];
  show(container, h("h1", { tabindex: "-1" }, "Operations"), updated, h("div", { class: "panels" }, panels));
  async function refresh() {
    if (document.hidden) return;
    await Promise.all(panels.map((section) => section.load()));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
  }
  for (const section of panels) section.addEventListener("sie:changed", refresh);
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
