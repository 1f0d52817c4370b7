// The insights page: sentiment per day as stacked columns and the top entities as bars (each a
// search for that entity), for a time window and a source; the numbers come from /v1/insights/*.
import { api, explain } from "./api.js";
import { dayBounds, debounce, field, h, show, table } from "./dom.js";
import { horizontalBars, stackedColumns } from "./charts.js";

const SENTIMENTS = [
  { key: "positive", label: "positive" },
  { key: "neutral", label: "neutral" },
  { key: "negative", label: "negative" },
  { key: "unscored", label: "unscored" },
];
const TOP_ENTITIES = 10;

function sentimentFigure(answer, source, width) {
  const rows = answer.buckets.map((bucket) => ({ label: bucket.day, values: bucket }));
  const totals = Object.fromEntries(SENTIMENTS.map(({ key }) => [`data-${key}`, answer.totals[key] ?? 0]));
  const summary = SENTIMENTS.map(({ key }) => `${answer.totals[key] ?? 0} ${key}`).join(", ");
  return h(
    "figure",
    { id: "sentiment-chart", class: "chart-figure", "data-source": source, ...totals },
    h("figcaption", {}, `Sentiment per day: ${summary}`),
    rows.length ? stackedColumns({ rows, series: SENTIMENTS, width, description: `Sentiment of documents per day: ${summary}` })
      : h("p", {}, "No documents in this window."),
    h("ul", { class: "legend" }, SENTIMENTS.map(({ key, label }) => h("li", { class: `legend-${key}` }, label))),
    h("details", {}, h("summary", {}, "The numbers"),
      table("Documents per day and sentiment", [
        ["Day", (row) => row.day],
        ...SENTIMENTS.map(({ key, label }) => [label, (row) => String(row[key])]),
        ["Average score", (row) => (row.average_compound === null ? "—" : row.average_compound.toFixed(3))],
      ], answer.buckets, { id: "sentiment-data" })),
  );
}

function entitiesFigure(answer, source, width) {
  const rows = answer.top.map((entity) => ({
    label: entity.text,
    value: entity.documents,
    note: `${entity.label}, ${entity.mentions} mentions`,
    href: `#/search?entity=${encodeURIComponent(entity.text)}`,
  }));
  return h(
    "figure",
    { id: "entities-chart", class: "chart-figure", "data-source": source },
    h("figcaption", {}, `Top ${rows.length} entities by documents that name them (select one to search for it)`),
    rows.length ? horizontalBars({ rows, width, unit: "documents", description: "Top entities by documents" })
      : h("p", {}, "No entities in this window."),
    h("details", {}, h("summary", {}, "The numbers"),
      table("Top entities", [
        ["Entity", (entity) => entity.text],
        ["Label", (entity) => entity.label],
        ["Documents", (entity) => String(entity.documents)],
        ["Mentions", (entity) => String(entity.mentions)],
      ], answer.top, { id: "entities-data" })),
  );
}

export function renderInsights(container, route) {
  const value = (name) => route.params.get(name) || "";
  const form = h(
    "form",
    { class: "filters", id: "insights-form", "aria-label": "Insights window" },
    field("From", h("input", { id: "insights-from", name: "from", type: "date", value: value("from") })),
    field("To", h("input", { id: "insights-to", name: "to", type: "date", value: value("to") })),
    field("Source", h("input", { id: "insights-source", name: "source", value: value("source"), list: "insights-sources", autocomplete: "off" })),
    h("datalist", { id: "insights-sources" }),
  );
  const status = h("p", { class: "count", "aria-live": "polite" });
  const charts = h("div", { class: "charts" });
  show(container, h("h1", { tabindex: "-1" }, "Insights"), form, status, charts);

  let inFlight = null;
  let drawn = null;
  // Each chart is drawn at its figure's inner width: the figures sit side by side, or stacked.
  function draw() {
    if (!drawn) return;
    const columns = getComputedStyle(charts).gridTemplateColumns.split(" ").length;
    const width = (charts.clientWidth - 16 * (columns - 1)) / columns - 34;
    show(charts, sentimentFigure(drawn.sentiment, drawn.source, width), entitiesFigure(drawn.entities, drawn.source, width));
  }
  async function load() {
    inFlight?.abort();
    inFlight = new AbortController();
    const chosen = { from: form.elements.from.value, to: form.elements.to.value, source: form.elements.source.value.trim() };
    history.replaceState(null, "", `#/insights?${new URLSearchParams(Object.entries(chosen).filter(([, v]) => v))}`);
    const params = { source: chosen.source, ...dayBounds(chosen.from, chosen.to) };
    status.textContent = "Loading…";
    try {
      const [sentiment, entities] = await Promise.all([
        api("/v1/insights/sentiment", { params, signal: inFlight.signal }),
        api("/v1/insights/entities", { params: { ...params, top: TOP_ENTITIES }, signal: inFlight.signal }),
      ]);
      drawn = { sentiment, entities, source: chosen.source };
      draw();
      status.textContent = "";
    } catch (error) {
      if (error.name !== "AbortError") status.textContent = explain(error);
    }
  }
  form.addEventListener("input", debounce(load, 200));
  const redraw = debounce(draw, 100);
  addEventListener("resize", redraw);
  form.addEventListener("submit", (event) => event.preventDefault());
  load();
  api("/v1/sources", { params: { limit: 1000 } })
    .then((answer) => show(form.querySelector("#insights-sources"), answer.data.map((source) => h("option", { value: source.name }))))
    .catch(() => {}); // only admin keys list sources; the field still takes any source name
  return () => {
    inFlight?.abort();
    removeEventListener("resize", redraw);
  };
}
