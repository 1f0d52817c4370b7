// The search page: results as you type, with highlighted snippets, facet filters and paging.
import { api, explain } from "./api.js";
import { dayBounds, debounce, field, h, markedText, show, when } from "./dom.js";

const PAGE_SIZE = 20;
const TYPING_PAUSE_MS = 150;
const FILTERS = ["q", "source", "sentiment", "entity", "from", "to"];

function controls(params) {
  const value = (name) => params.get(name) || "";
  const sentiment = h(
    "select",
    { id: "sentiment", name: "sentiment" },
    ["", "positive", "neutral", "negative"].map((option) =>
      h("option", { value: option, selected: option === value("sentiment") }, option || "Any"),
    ),
  );
  return h(
    "form",
    { role: "search", id: "search-form", class: "filters", "aria-label": "Search documents" },
    field("Search", h("input", { id: "q", name: "q", type: "search", value: value("q"), autocomplete: "off", placeholder: "Words to find" })),
    field("Source", h("input", { id: "source", name: "source", value: value("source"), list: "source-options", autocomplete: "off" })),
    field("Sentiment", sentiment),
    field("Entity", h("input", { id: "entity", name: "entity", value: value("entity"), list: "entity-options", autocomplete: "off" })),
    field("From", h("input", { id: "from", name: "from", type: "date", value: value("from") })),
    field("To", h("input", { id: "to", name: "to", type: "date", value: value("to") })),
    h("datalist", { id: "source-options" }),
    h("datalist", { id: "entity-options" }),
  );
}

function hit(result) {
  return h(
    "li",
    { class: "hit", "data-id": result.id },
    h("h2", {}, h("a", { href: `#/doc/${result.id}` }, result.title || "(untitled)")),
    h("p", { class: "snippet" }, markedText(result.snippet)),
    h(
      "p",
      { class: "meta" },
      h("span", {}, result.source),
      result.sentiment ? h("span", { class: `badge sentiment-${result.sentiment}` }, result.sentiment) : null,
      when(result.published_at || result.created_at),
    ),
  );
}

/** The total as the API gave it: exact (`eq`), or a lower bound (`gte`: counting stops at a cap). */
function countText(answer, offset) {
  if (answer.total === 0 && !answer.hits.length) return "No documents match.";
  const noun = answer.total === 1 ? "document matches" : "documents match";
  const total = answer.total_relation === "gte"
    ? `At least ${answer.total} ${noun}`
    : `${answer.total} ${noun}`;
  const shown = answer.hits.length;
  return shown ? `${total}; showing ${offset + 1}–${offset + shown}.` : `${total}; none on this page.`;
}

async function fillSuggestions(form) {
  const options = (id, values) =>
    show(form.querySelector(`#${id}`), [...new Set(values)].map((value) => h("option", { value })));
  try {
    const [entities, recent] = await Promise.all([
      api("/v1/insights/entities", { params: { top: 50 } }),
      api("/v1/search", { params: { limit: 100 } }),
    ]);
    options("entity-options", entities.top.map((entity) => entity.text));
    options("source-options", recent.hits.map((result) => result.source));
  } catch {
    // Suggestions are a convenience: the search itself reports errors.
  }
}

export function renderSearch(container, route) {
  let offset = Number(route.params.get("offset")) || 0;
  let inFlight = null;
  const form = controls(route.params);
  const count = h("p", { id: "result-count", class: "count", "aria-live": "polite" });
  const results = h("ol", { id: "results", class: "hits" });
  const previous = h("button", { type: "button", class: "secondary", id: "previous-page" }, "Previous");
  const next = h("button", { type: "button", class: "secondary", id: "next-page" }, "Next");
  show(
    container,
    h("h1", { tabindex: "-1" }, "Search"),
    form,
    count,
    results,
    h("nav", { class: "paging", "aria-label": "Result pages" }, previous, next),
  );
  performance.mark("sie:search-rendered");

  const filters = () => Object.fromEntries(FILTERS.map((name) => [name, form.elements[name].value.trim()]));
  async function search() {
    inFlight?.abort();
    inFlight = new AbortController();
    const chosen = filters();
    const query = new URLSearchParams(Object.entries({ ...chosen, offset: offset || "" }).filter(([, v]) => v));
    history.replaceState(null, "", `#/search${query.size ? `?${query}` : ""}`);
    const params = { ...chosen, ...dayBounds(chosen.from, chosen.to), limit: PAGE_SIZE, offset };
    try {
      const answer = await api("/v1/search", { params, signal: inFlight.signal });
      count.textContent = countText(answer, offset);
      show(results, answer.hits.map(hit));
      previous.disabled = offset === 0;
      next.disabled = offset + answer.hits.length >= answer.total;
      count.dataset.total = answer.total;
      count.dataset.relation = answer.total_relation;
    } catch (error) {
      if (error.name !== "AbortError") count.textContent = explain(error);
    }
  }
  const searchSoon = debounce(() => {
    offset = 0;
    search();
  }, TYPING_PAUSE_MS);
  form.addEventListener("input", searchSoon);
  form.addEventListener("submit", (event) => event.preventDefault());
  previous.addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    search();
  });
  next.addEventListener("click", () => {
    offset += PAGE_SIZE;
    search();
  });
  search();
  fillSuggestions(form);
  return () => inFlight?.abort();
}
