// A section of the operations page: a title, and a body that `load()` fills (or fills with why not).
import { explain } from "./api.js";
import { h, show } from "./dom.js";

/** A titled section whose `load()` fills its body; a failed call shows why in place of the content. */
export function panel(id, titleText, fill, ...extra) {
  const body = h("div", { class: "panel-body", id: `${id}-body` });
  const section = h("section", { class: "panel", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, titleText), ...extra, body);
  section.load = async () => {
    try {
      await fill(body);
    } catch (error) {
      show(body, h("p", { class: "notice" }, explain(error)));
    }
  };
  return section;
}
