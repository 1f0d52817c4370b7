// The console's shell: sign-in, navigation between pages (#/search, #/doc/<id>, #/insights,
// #/operations) and their lifetimes. A page is a function that renders into a container and may
// return a function that stops what it started (timers, requests).
import { ApiError, UNAUTHORIZED_EVENT, api, apiKey } from "./api.js";
import { renderSearch } from "./search.js";

// The other pages load when first opened: only the search page's modules stand before the first render.
const lazy = (path, name) => (...args) => import(path).then((module) => module[name](...args));
const PAGES = {
  search: renderSearch,
  doc: lazy("./document.js", "renderDocument"),
  insights: lazy("./insights.js", "renderInsights"),
  operations: lazy("./operations.js", "renderOperations"),
};
const MESSAGES = {
  missing: "Sign in with an API key to use the console.",
  refused: (detail) => `This API key was refused (${detail}). Paste a valid key to sign in again.`,
  signedOut: "You are signed out. The key was removed from this tab.",
};

const $ = (id) => document.getElementById(id);
let stopPage = null;
// Bumped whenever the page in view goes away: a page that finishes rendering after that is stopped.
let generation = 0;

function parseRoute() {
  const match = location.hash.match(/^#\/([a-z]+)(?:\/([^?]*))?(?:\?(.*))?$/);
  if (!match || !(match[1] in PAGES)) return { page: "search", arg: "", params: new URLSearchParams() };
  return { page: match[1], arg: decodeURIComponent(match[2] || ""), params: new URLSearchParams(match[3] || "") };
}

function showSignIn(message) {
  stopCurrentPage();
  $("page").hidden = true;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-message").textContent = message;
  $("api-key").focus();
}

function stopCurrentPage() {
  generation += 1;
  if (typeof stopPage === "function") stopPage();
  stopPage = null;
}

async function route() {
  if (!location.hash.startsWith("#/") && location.hash) return; // the skip link and other anchors
  if (!apiKey.get()) return showSignIn(MESSAGES.missing);
  stopCurrentPage();
  const mine = generation;
  const current = parseRoute();
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  for (const link of $("nav").querySelectorAll("a")) {
    link.toggleAttribute("aria-current", link.dataset.page === current.page);
  }
  const container = $("page");
  container.hidden = false;
  container.replaceChildren();
  const stop = await PAGES[current.page](container, current);
  if (mine === generation) stopPage = stop;
  else if (typeof stop === "function") stop();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return showSignIn(MESSAGES.missing);
  apiKey.set(key);
  try {
    await api("/v1/search", { params: { limit: 1 } });
  } catch (error) {
    apiKey.clear();
    const detail = error instanceof ApiError ? error.message : "the API did not answer";
    return showSignIn(error.status === 403 ? `This key cannot read documents: ${detail}.` : MESSAGES.refused(detail));
  }
  $("api-key").value = "";
  if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/search");
  await route();
  document.querySelector("#page h1")?.focus();
}

function signOut() {
  apiKey.clear();
  showSignIn(MESSAGES.signedOut);
}

addEventListener(UNAUTHORIZED_EVENT, (event) => {
  apiKey.clear();
  showSignIn(MESSAGES.refused(event.detail));
});
addEventListener("hashchange", route);
$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
$("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  $("main").focus();
});
route();
