// A document's page: its text with the entities marked in place, keywords, sentiment with its score,
// the OCR confidence of each scanned page, and the history of its jobs.
import { api, explain } from "./api.js";
import { h, show, table, when } from "./dom.js";

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The text with each entity's occurrences wrapped in <mark class="entity"> (longest names first). */
function textWithEntities(text, entities) {
  const labels = new Map(entities.map((entity) => [entity.text, entity.label]));
  const names = [...labels.keys()].filter(Boolean).sort((a, b) => b.length - a.length);
  if (!names.length) return [text];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(${names.map(escapeRegExp).join("|")})(?![\\p{L}\\p{N}])`, "gu");
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index));
    const label = labels.get(match[0]);
    parts.push(h("mark", { class: `entity entity-${label}`, "data-label": label, title: label }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function facts(doc) {
  const row = (term, value) => (value ? [h("dt", {}, term), h("dd", {}, value)] : null);
  const sentiment = doc.sentiment
    ? h("span", { id: "doc-sentiment", class: `badge sentiment-${doc.sentiment.label}` },
        `${doc.sentiment.label} (score ${doc.sentiment.compound.toFixed(3)})`)
    : "not scored";
  return h(
    "dl",
    { class: "facts" },
    row("Source", h("a", { href: `#/search?source=${encodeURIComponent(doc.source)}` }, doc.source)),
    row("Address", doc.url && h("a", { href: doc.url, rel: "noreferrer noopener", target: "_blank" }, doc.url)),
    row("Sentiment", sentiment),
    row("Language", doc.language),
    row("Author", doc.author),
    row("Published", doc.published_at && when(doc.published_at)),
    row("Ingested", when(doc.created_at)),
    row("Status", doc.status),
  );
}

function ocrPages(extraction) {
  const pages = (extraction.pages || []).filter((page) => page.ocr_confidence !== null && page.ocr_confidence !== undefined);
  if (!pages.length) return null;
  const percent = (value) => `${(value * 100).toFixed(1)} %`;
  return h(
    "section",
    { "aria-labelledby": "ocr-title" },
    h("h2", { id: "ocr-title" }, "OCR confidence"),
    table("OCR confidence per page", [
      ["Page", (page) => String(page.number)],
      ["Confidence", (page) => percent(page.ocr_confidence)],
      ["Characters", (page) => String(page.characters)],
    ], pages, { id: "ocr-pages" }),
  );
}

function jobHistory(jobs) {
  return table("Jobs of this document, newest first", [
    ["Created", (job) => when(job.created_at)],
    ["Status", (job) => h("span", { class: `badge status-${job.status}` }, job.status)],
    ["Attempts", (job) => String(job.attempts)],
    ["Queue", (job) => job.queue],
    ["Finished", (job) => when(job.finished_at)],
    ["Error", (job) => job.error || "—"],
  ], jobs, { id: "job-history" });
}

export async function renderDocument(container, route) {
  const heading = h("h1", { tabindex: "-1" }, "Document");
  show(container, h("p", {}, h("a", { href: "#/search" }, "← Back to search")), heading, h("p", { "aria-live": "polite" }, "Loading…"));
  let doc, jobs;
  try {
    [doc, jobs] = await Promise.all([
      api(`/v1/documents/${encodeURIComponent(route.arg)}`),
      api("/v1/jobs", { params: { document_id: route.arg } }),
    ]);
  } catch (error) {
    const notFound = error.status === 404 || error.status === 422;
    show(container, heading, h("p", { class: "notice", role: "alert" }, notFound ? "Document not found for this key's tenant." : explain(error)));
    return;
  }
  heading.textContent = doc.title || "(untitled)";
  show(
    container,
    h("p", {}, h("a", { href: "#/search" }, "← Back to search")),
    heading,
    facts(doc),
    doc.keywords.length ? h("section", { "aria-labelledby": "kw-title" }, h("h2", { id: "kw-title" }, "Keywords"),
      h("ul", { class: "chips", id: "keywords" }, doc.keywords.map((keyword) => h("li", {}, keyword)))) : null,
    h("section", { "aria-labelledby": "entities-title" }, h("h2", { id: "entities-title" }, "Entities"),
      h("ul", { class: "chips", id: "entities" }, doc.entities.map((entity) =>
        h("li", {}, h("a", { href: `#/search?entity=${encodeURIComponent(entity.text)}` }, `${entity.text}`),
          h("small", {}, ` ${entity.label} ×${entity.count}`))))),
    h("section", { "aria-labelledby": "text-title" }, h("h2", { id: "text-title" }, "Text"),
      h("div", { class: "document-text", id: "document-text" }, textWithEntities(doc.text || "", doc.entities))),
    ocrPages(doc.extraction || {}),
    h("section", { "aria-labelledby": "jobs-title" }, h("h2", { id: "jobs-title" }, "Job history"), jobHistory(jobs.jobs)),
  );
}
