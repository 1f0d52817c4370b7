// Sources: each with its state, last error, next poll and a "Sync now" button that polls it at once
// (POST /v1/sources/{name}/sync?wait=true) and shows the new state.
import { api, explain } from "./api.js";
import { h, show, table, when } from "./dom.js";
import { panel } from "./panel.js";

/** A source's state in a word or two, from what the scheduler reported. */
export function sourceState(source) {
  const status = source.status;
  if (source.suspend) return "suspended";
  if (status.polling) return "polling";
  if (status.consecutive_failures) return `failing (${status.consecutive_failures}×)`;
  if (status.last_success_at) return "ok";
  return "never polled";
}

function syncButton(source, section, message) {
  const button = h("button", { type: "button", class: "secondary", "data-source": source.name, disabled: source.suspend,
    "aria-label": `Sync now: ${source.name}` }, "Sync now");
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Syncing…";
    message.textContent = `Syncing ${source.name}…`;
    try {
      const synced = await api(`/v1/sources/${encodeURIComponent(source.name)}/sync`, { method: "POST", params: { wait: true } });
      const added = synced.status.items_ingested - source.status.items_ingested;
      message.textContent = `${source.name}: ${sourceState(synced)}; ${added} new item${added === 1 ? "" : "s"} ingested.`;
    } catch (error) {
      message.textContent = `${source.name}: ${explain(error)}`;
    }
    section.dispatchEvent(new CustomEvent("sie:changed"));
  });
  return button;
}

export function sourcesPanel() {
  const message = h("p", { id: "sync-result", role: "status" });
  const section = panel("sources", "Sources", async (body) => {
    const answer = await api("/v1/sources", { params: { limit: 200 } });
    show(body, answer.count === 0 ? h("p", {}, "No sources yet.") : table("Sources of this tenant", [
      ["Name", (source) => source.name],
      ["Type", (source) => source.type],
      ["State", (source) => h("span", { class: "source-state", "data-source": source.name }, sourceState(source))],
      ["Last success", (source) => when(source.status.last_success_at)],
      ["Next poll", (source) => (source.suspend ? "—" : when(source.status.next_run_at))],
      ["Ingested", (source) => String(source.status.items_ingested)],
      ["Last error", (source) => source.status.last_error || "—"],
      ["", (source) => syncButton(source, section, message)],
    ], answer.data, { id: "sources-table" }));
  }, message);
  return section;
}
