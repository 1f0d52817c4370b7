// The /v1 API with the key the person pasted: kept in sessionStorage (this tab only) and sent as the
// X-API-Key header. It never goes into a URL or a cookie, and requests carry no credentials.

const KEY_NAME = "sie.apiKey";
// The console lives at <api>/ui/, so the API is one level up (this also holds behind a path prefix).
const API_BASE = new URL("../", document.baseURI);

export const UNAUTHORIZED_EVENT = "sie:unauthorized";

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_NAME),
  set: (key) => sessionStorage.setItem(KEY_NAME, key),
  clear: () => sessionStorage.removeItem(KEY_NAME),
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function detailOf(body, response) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((error) => `${error.loc.join(".")}: ${error.msg}`).join("; ");
  return `${response.status} ${response.statusText}`;
}

/** GET (or `method`) `path` of the API with `params` as its query; the parsed JSON body, or an ApiError. */
export async function api(path, { method = "GET", params = {}, body, signal, acceptStatus = [] } = {}) {
  const url = new URL(path.replace(/^\//, ""), API_BASE);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const key = apiKey.get();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: "omit",
    cache: "no-store",
  });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson ? await response.json() : null;
  if (response.ok || acceptStatus.includes(response.status)) return data;
  const error = new ApiError(response.status, detailOf(data, response));
  if (response.status === 401) dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: error.message }));
  throw error;
}

/** What a panel says when its call failed: a missing scope reads as such, other errors as they came. */
export function explain(error) {
  if (error.name === "AbortError") return "";
  if (error.status === 403) return `Not allowed with this key: ${error.message}.`;
  if (error.status === 404) return "Not found: it does not exist for this key's tenant.";
  return error.status ? `The API answered ${error.status}: ${error.message}` : `The API did not answer: ${error.message}`;
}
