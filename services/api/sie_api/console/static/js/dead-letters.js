// Dead letters: the list, and a replay or a discard that must be previewed first (a dry run that
// shows how many match), then confirmed for exactly the previewed filter. The API audits both
// (`replayed_by`, `discarded_by`: the key, and "console"); the latest of each are listed below.
import { api, explain } from "./api.js";
import { field, h, show, table, when } from "./dom.js";
import { panel } from "./panel.js";

const FILTER_FIELDS = [
  ["error_contains", "Error contains"],
  ["source", "Source"],
  ["task", "Task"],
];
// What each confirmed action posts, and how its answer reads.
const ACTIONS = {
  replay: { path: "/v1/dead-letters/replay", label: "Replay", audit: "replayed_by", done: "replayed", verb: "Replayed" },
  discard: { path: "/v1/dead-letters/discard", label: "Discard", audit: "discarded_by", done: "discarded", verb: "Discarded" },
};

const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;

function letters(caption, rows, id) {
  const audit = [["replayed_by", "Replayed by"], ["discarded_by", "Discarded by"]]
    .filter(([name]) => rows.some((letter) => letter[name]))
    .map(([name, header]) => [header, (letter) => letter[name]]);
  return table(caption, [
    ["Died", (letter) => when(letter.created_at)],
    ["Task", (letter) => letter.task],
    ["Queue", (letter) => letter.queue],
    ["Source", (letter) => letter.source || "—"],
    ["Attempts", (letter) => String(letter.attempts)],
    ["Error", (letter) => letter.error],
    ...audit,
  ], rows, { id });
}

function selectionForm(section) {
  const inputs = FILTER_FIELDS.map(([name]) => h("input", { id: `dlq-${name}`, name, autocomplete: "off" }));
  const maxJobs = h("input", { id: "dlq-max", name: "max_jobs", type: "number", min: 1, max: 10000, value: 100 });
  const preview = h("button", { type: "submit", id: "dlq-preview" }, "Preview (dry run)");
  const confirms = Object.fromEntries(Object.entries(ACTIONS).map(([name, action]) =>
    [name, h("button", { type: "button", id: `dlq-${name}`, class: name === "discard" ? "secondary" : "", disabled: true }, action.label)]));
  const result = h("p", { id: "dlq-result", role: "status" });
  const form = h("form", { id: "dlq-form", class: "filters", "aria-label": "Replay or discard dead letters" },
    FILTER_FIELDS.map(([, label], index) => field(label, inputs[index])), field("At most", maxJobs),
    h("div", { class: "actions" }, preview, Object.values(confirms)), result);
  let previewed = null;

  const selection = () => ({
    ...Object.fromEntries(inputs.map((input) => [input.name, input.value.trim() || null])),
    max_jobs: Number(maxJobs.value) || 100,
  });
  const arm = (matched) => {
    for (const [name, button] of Object.entries(confirms)) {
      button.disabled = !matched;
      button.textContent = matched ? `${ACTIONS[name].label} ${matched}` : ACTIONS[name].label;
    }
  };
  form.addEventListener("input", () => {
    previewed = null;
    arm(0);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api(ACTIONS.replay.path, { method: "POST", body: { ...selection(), dry_run: true } });
      previewed = JSON.stringify(selection());
      result.textContent = answer.matched
        ? `${plural(answer.matched, "dead letter")} match: replay sends them back to their queues, discard gives up on them.`
        : "No dead letter matches these filters.";
      arm(answer.matched);
    } catch (error) {
      result.textContent = explain(error);
    }
  });
  for (const [name, button] of Object.entries(confirms)) {
    button.addEventListener("click", async () => {
      if (previewed !== JSON.stringify(selection())) return;
      const action = ACTIONS[name];
      arm(0);
      previewed = null;
      try {
        const body = { ...selection(), dry_run: false, [action.audit]: "console" };
        const answer = await api(action.path, { method: "POST", body });
        result.textContent = `${action.verb} ${plural(answer[action.done], "job")}.`;
      } catch (error) {
        result.textContent = explain(error);
      }
      section.dispatchEvent(new CustomEvent("sie:changed"));
    });
  }
  return form;
}

export function deadLettersPanel() {
  const section = panel("dead-letters", "Dead letters", async (body) => {
    const [waiting, replayed, discarded] = await Promise.all([
      api("/v1/dead-letters", { params: { limit: 50 } }),
      api("/v1/dead-letters", { params: { state: "replayed", limit: 5 } }),
      api("/v1/dead-letters", { params: { state: "discarded", limit: 5 } }),
    ]);
    const shown = waiting.total > waiting.count ? `; the newest ${waiting.count} shown` : "";
    show(body,
      h("p", { id: "dead-letter-count", "data-total": waiting.total }, `${waiting.total} waiting${shown}.`),
      waiting.count ? letters("Dead letters waiting, newest first", waiting.dead_letters, "dead-letters-table") : null,
      replayed.count ? letters("Replayed lately (audit trail)", replayed.dead_letters, "replayed-table") : null,
      discarded.count ? letters("Discarded lately (audit trail)", discarded.dead_letters, "discarded-table") : null);
  });
  section.insertBefore(selectionForm(section), section.lastChild);
  return section;
}
