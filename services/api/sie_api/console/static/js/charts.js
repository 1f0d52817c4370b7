// Two small SVG charts drawn from data; colours come from the stylesheet (classes), never inline styles.
// Each mark carries its numbers as data-* attributes, and each chart has a table of the same numbers.
// Charts are drawn at the width they are shown at (`width`, in CSS pixels), so text keeps its size.

const SVG_NS = "http://www.w3.org/2000/svg";
const MIN_WIDTH = 280;

function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

const title = (text) => s("title", {}, text);

/**
 * Stacked columns: one per row (`rows`: [{label, values: {key: number}}]), one band per series
 * (`series`: [{key, label}]), bottom to top in that order.
 */
export function stackedColumns({ rows, series, description, width: shownWidth }) {
  const width = Math.max(MIN_WIDTH, Math.round(shownWidth));
  const height = 240;
  const top = 16;
  const bottom = 28;
  const left = 36;
  const plot = { width: width - left - 8, height: height - top - bottom };
  const highest = Math.max(1, ...rows.map((row) => series.reduce((sum, band) => sum + (row.values[band.key] || 0), 0)));
  const slot = plot.width / Math.max(rows.length, 1);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": description, class: "chart" });
  svg.append(
    s("line", { x1: left, y1: top + plot.height, x2: width - 8, y2: top + plot.height, class: "axis" }),
    s("text", { x: left - 6, y: top + 4, class: "tick", "text-anchor": "end" }, String(highest)),
    s("text", { x: left - 6, y: top + plot.height, class: "tick", "text-anchor": "end" }, "0"),
  );
  const columnWidth = Math.min(slot * 0.7, 48);
  rows.forEach((row, index) => {
    const x = left + index * slot + (slot - columnWidth) / 2;
    let y = top + plot.height;
    const column = s("g", { class: "column", "data-day": row.label });
    for (const band of series) {
      const count = row.values[band.key] || 0;
      const barHeight = (count / highest) * plot.height;
      y -= barHeight;
      column.append(
        s("rect", { x, y, width: columnWidth, height: barHeight, class: `band band-${band.key}`, "data-series": band.key, "data-count": count },
          title(`${row.label}: ${count} ${band.label}`)),
      );
    }
    svg.append(column);
    const labelEvery = Math.ceil(rows.length / 6);
    if (index % labelEvery === 0 || index === rows.length - 1) {
      svg.append(s("text", { x: x + columnWidth / 2, y: height - 8, class: "tick", "text-anchor": "middle" }, row.label.slice(5)));
    }
  });
  return svg;
}

/** Horizontal bars, one per row (`rows`: [{label, value, href, note}]), each a link when it has `href`. */
export function horizontalBars({ rows, description, unit, width: shownWidth }) {
  const width = Math.max(MIN_WIDTH, Math.round(shownWidth));
  const rowHeight = 26;
  const labelWidth = Math.min(170, Math.round(width * 0.4));
  const height = Math.max(rowHeight, rows.length * rowHeight) + 4;
  const highest = Math.max(1, ...rows.map((row) => row.value));
  const barSpace = width - labelWidth - 40;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": description, class: "chart bars" });
  rows.forEach((row, index) => {
    const y = index * rowHeight + 2;
    const barWidth = Math.max(2, (row.value / highest) * barSpace);
    const bar = s(
      "g",
      { class: "bar", "data-label": row.label, "data-value": row.value },
      s("text", { x: labelWidth - 8, y: y + rowHeight * 0.65, class: "bar-label", "text-anchor": "end" }, row.label),
      s("rect", { x: labelWidth, y: y + 3, width: barWidth, height: rowHeight - 8, class: "bar-fill" }),
      s("text", { x: labelWidth + barWidth + 6, y: y + rowHeight * 0.65, class: "bar-value" }, String(row.value)),
    );
    if (!row.href) return svg.append(bar);
    const link = s("a", { href: row.href, "aria-label": `${row.label}: ${row.value} ${unit}${row.note ? ` (${row.note})` : ""}; search for it` }, bar);
    svg.append(link);
  });
  return svg;
}
