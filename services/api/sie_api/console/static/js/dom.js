// Small DOM helpers: elements are built node by node (text is never parsed as HTML).

/** An element: `attrs` sets attributes (`on*` functions become listeners, false/null are left out). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  element.append(...flatten(children));
  return element;
}

export function setAttributes(element, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "value") element.value = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
}

export function flatten(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false);
}

/** A labelled form control: the label's `for` names the control's id. */
export function field(label, control, hint) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hint ? h("small", {}, hint) : null);
}

/** A search snippet: the API marks matches with <mark>…</mark>; everything else is shown as text. */
export function markedText(snippet) {
  const fragment = document.createDocumentFragment();
  let marked = false;
  for (const part of (snippet || "").split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) fragment.append(marked ? h("mark", {}, part) : document.createTextNode(part));
  }
  return fragment;
}

/** A table with a caption; `columns` are [header, row => cell content]. */
export function table(caption, columns, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map(([header]) => h("th", { scope: "col" }, header)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
    ),
  );
}

// Made on first use: building a formatter loads the browser's locale data (some 40 ms), which
// would otherwise delay the first render of every page.
let dateTime = null;

export function when(iso) {
  dateTime ??= new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return iso ? h("time", { datetime: iso }, dateTime.format(new Date(iso))) : "—";
}

/** Replace a container's content. */
export function show(container, ...children) {
  container.replaceChildren(...flatten(children));
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** The API's datetime bounds for a date input's day: from its first moment, to its last (UTC). */
export function dayBounds(from, to) {
  return { from: from ? `${from}T00:00:00Z` : undefined, to: to ? `${to}T23:59:59.999Z` : undefined };
}
