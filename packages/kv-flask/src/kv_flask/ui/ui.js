// The kv key browser: plain JavaScript over the kv HTTP API, nothing else.
// Data from the store is only ever put in the page as text (textContent, attribute values
// set one by one), never as markup.
"use strict";

(function () {
  const PAGE_SIZE = 100;
  const TOKEN_KEY = "kv-ui-token";
  const HEX_LIMIT = 64 * 1024;
  const TEXT_LIMIT = 1024 * 1024;
  const marker = location.pathname.lastIndexOf("/_kv/ui");
  const base = marker >= 0 ? location.pathname.slice(0, marker) : "";

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    info: null,
    history: false,
    asOf: null,
    prefix: "",
    cursor: null,
    folders: new Set(),
    current: null,
    blobUrls: [],
  };

  const $ = (id) => document.getElementById(id);

  function keyPath(key) {
    return key.split("/").map(encodeURIComponent).join("/");
  }

  function withQuery(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) query.set(name, value);
    }
    if (state.asOf !== null) query.set("as_of", state.asOf);
    const text = query.toString();
    return text ? path + "?" + text : path;
  }

  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    if (state.token) headers.set("Authorization", "Bearer " + state.token);
    const response = await fetch(base + path, {
      method: options.method || "GET",
      headers: headers,
      body: options.body,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
    if (response.status === 401) {
      showTokenForm();
      throw new UiError("This server needs a token: enter it above.");
    }
    return response;
  }

  class UiError extends Error {}

  async function apiError(response, what) {
    let detail = "";
    try {
      const document = await response.json();
      detail = document.message || document.error || "";
    } catch (ignored) {
      detail = "";
    }
    return new UiError(what + " failed (" + response.status + (detail ? ": " + detail : "") + ")");
  }

  function say(text, isError) {
    const box = $("message");
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = false;
  }

  function quiet() {
    $("message").hidden = true;
  }

  function guarded(action) {
    return async function (event) {
      if (event) event.preventDefault();
      try {
        await action(event);
      } catch (error) {
        say(error instanceof UiError ? error.message : "Error: " + error, true);
      }
    };
  }

  function button(text, className, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    if (className) element.className = className;
    element.addEventListener("click", guarded(onClick));
    return element;
  }

  // -- token --------------------------------------------------------------------------------

  function showTokenForm() {
    $("token-form").hidden = false;
    $("token-input").focus();
  }

  async function useToken() {
    state.token = $("token-input").value;
    $("token-input").value = "";
    if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
    await start();
  }

  function forgetToken() {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showTokenForm();
  }

  // -- listing ------------------------------------------------------------------------------

  async function start() {
    const response = await api("/_kv/info");
    if (!response.ok) throw await apiError(response, "Reading the server's info");
    state.info = await response.json();
    const store = state.info.store;
    state.history = Boolean(store && store.history);
    $("snapshot-form").hidden = !state.history;
    $("history").hidden = true;
    $("token-form").hidden = !state.token;
    quiet();
    await openFolder("");
  }

  async function refreshCount() {
    const response = await api(withQuery("/_kv/count", {}));
    if (!response.ok) throw await apiError(response, "Counting keys");
    const count = (await response.json()).count;
    $("count").textContent = count + (count === 1 ? " key" : " keys") + " in the store" +
      (state.asOf !== null ? " as of " + state.asOf : "");
    $("store-summary").textContent = count + " keys" + (state.history ? ", with history" : "");
  }

  async function openFolder(prefix) {
    state.prefix = prefix;
    state.cursor = null;
    state.folders = new Set();
    $("key-list").replaceChildren();
    renderCrumbs();
    await Promise.all([loadPage(), refreshCount()]);
  }

  async function loadPage() {
    const params = { prefix: state.prefix, limit: String(PAGE_SIZE), cursor: state.cursor };
    const response = await api(withQuery("/", params));
    if (!response.ok) throw await apiError(response, "Listing keys");
    const page = await response.json();
    const list = $("key-list");
    let first = null;
    for (const key of page.keys) {
      const rest = key.slice(state.prefix.length);
      const slash = rest.indexOf("/");
      let item = null;
      if (slash >= 0) {
        const folder = state.prefix + rest.slice(0, slash + 1);
        if (!state.folders.has(folder)) {
          state.folders.add(folder);
          item = button(rest.slice(0, slash + 1), "folder", () => openFolder(folder));
          item.dataset.folder = folder;
        }
      } else {
        item = button(rest, "key", () => openKey(key));
        item.dataset.key = key;
      }
      if (item !== null) {
        const row = document.createElement("li");
        row.append(item);
        list.append(row);
        first = first || item;
      }
    }
    if (!list.children.length) {
      const row = document.createElement("li");
      row.textContent = "No keys here.";
      list.append(row);
    }
    state.cursor = page.next_cursor;
    $("more").hidden = !state.cursor;
    return first;
  }

  async function more() {
    const first = await loadPage();
    if (first) first.focus();
  }

  function renderCrumbs() {
    const crumbs = $("crumbs");
    crumbs.replaceChildren(button("All keys", "crumb", () => openFolder("")));
    const parts = state.prefix.split("/");
    let path = "";
    parts.forEach((part, index) => {
      if (!part) return;
      const last = index === parts.length - 1;
      path += part + (last ? "" : "/");
      const target = path;
      crumbs.append(document.createTextNode(" / "));
      if (last) {
        const span = document.createElement("span");
        span.textContent = "matching \u201c" + part + "\u201d";
        crumbs.append(span);
      } else {
        crumbs.append(button(part, "crumb", () => openFolder(target)));
      }
    });
  }

  async function search() {
    await openFolder($("prefix-input").value);
  }

  // -- snapshot -----------------------------------------------------------------------------

  async function showSnapshot(moment) {
    const text = (moment || $("as-of-input").value).trim();
    if (!text) throw new UiError("Enter a time, such as 2026-01-31T12:00:00Z.");
    const previous = state.asOf;
    state.asOf = text;
    try {
      await openFolder(state.prefix);
    } catch (error) {
      state.asOf = previous;
      throw error;
    }
    $("as-of-input").value = text;
    const banner = $("snapshot-banner");
    banner.textContent = "Showing the store as of " + text + " (read only).";
    banner.hidden = false;
    setWritable(false);
    $("viewer").hidden = true;
  }

  async function showPresent() {
    state.asOf = null;
    $("snapshot-banner").hidden = true;
    setWritable(true);
    await openFolder(state.prefix);
  }

  function setWritable(writable) {
    for (const id of ["edit", "delete", "create-button"]) $(id).disabled = !writable;
    $("create").hidden = !writable;
  }

  // -- one value ----------------------------------------------------------------------------

  function forgetBlobs() {
    for (const url of state.blobUrls) URL.revokeObjectURL(url);
    state.blobUrls = [];
  }

  function blobUrl(bytes, type) {
    const url = URL.createObjectURL(new Blob([bytes], { type: type }));
    state.blobUrls.push(url);
    return url;
  }

  function imageType(bytes) {
    const starts = (...signature) => signature.every((byte, i) => bytes[i] === byte);
    if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
    if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
    if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
    if (starts(0x52, 0x49, 0x46, 0x46) && bytes.length > 11 &&
        String.fromCharCode(...bytes.slice(8, 12)) === "WEBP") return "image/webp";
    if (starts(0x42, 0x4d)) return "image/bmp";
    return null;
  }

  function hexDump(bytes) {
    const lines = [];
    const end = Math.min(bytes.length, HEX_LIMIT);
    for (let offset = 0; offset < end; offset += 16) {
      const row = bytes.slice(offset, Math.min(offset + 16, end));
      const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
      const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."))
        .join("");
      lines.push(offset.toString(16).padStart(8, "0") + "  " + hex.padEnd(48) + "  " + ascii);
    }
    if (bytes.length > end) lines.push("\u2026 " + (bytes.length - end) + " more bytes");
    return lines.join("\n");
  }

  function decodeText(bytes) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (ignored) {
      return null;
    }
  }

  function render(key, bytes, etag, label) {
    forgetBlobs();
    const text = $("value-text");
    const hex = $("value-hex");
    const image = $("value-image");
    text.hidden = hex.hidden = image.hidden = true;
    const type = imageType(bytes);
    const decoded = type === null ? decodeText(bytes) : null;
    let kind;
    if (type !== null) {
      image.src = blobUrl(bytes, type);
      image.alt = "Preview of " + key;
      image.hidden = false;
      kind = "image (" + type + ")";
    } else if (decoded !== null) {
      text.textContent = decoded.length > TEXT_LIMIT
        ? decoded.slice(0, TEXT_LIMIT) + "\n\u2026 (shortened; download for all of it)"
        : decoded;
      text.hidden = false;
      kind = "text (UTF-8)";
    } else {
      hex.textContent = hexDump(bytes);
      hex.hidden = false;
      kind = "hex dump (binary)";
    }
    $("viewer-title").textContent = key + (label ? " \u2014 " + label : "");
    $("meta-size").textContent = bytes.length + (bytes.length === 1 ? " byte" : " bytes");
    $("meta-etag").textContent = etag || "\u2014";
    $("meta-kind").textContent = kind;
    const download = $("download");
    download.href = blobUrl(bytes, "application/octet-stream");
    download.download = key.split("/").pop();
    $("edit").hidden = decoded === null;
    $("edit-form").hidden = true;
    $("delete-confirm").hidden = true;
    $("viewer").hidden = false;
    return decoded;
  }

  async function openKey(key) {
    const response = await api(withQuery("/" + keyPath(key), {}));
    if (response.status === 404) {
      throw new UiError("The key \u201c" + key + "\u201d does not exist" +
        (state.asOf !== null ? " in this snapshot." : " (any more)."));
    }
    if (!response.ok) throw await apiError(response, "Reading the value");
    const bytes = new Uint8Array(await response.arrayBuffer());
    const etag = response.headers.get("ETag");
    const decoded = render(key, bytes, etag, state.asOf !== null ? "as of " + state.asOf : "");
    state.current = { key: key, etag: etag, text: decoded, version: null };
    const writable = state.asOf === null;
    $("edit").disabled = $("delete").disabled = !writable;
    quiet();
    if (state.history) await loadHistory(key);
    $("viewer-title").focus();
  }

  async function loadHistory(key) {
    const list = $("history-list");
    list.replaceChildren();
    const response = await api(withQuery("/_kv/history/" + keyPath(key), {}));
    if (response.status === 404) return;
    if (!response.ok) throw await apiError(response, "Reading the versions");
    const versions = (await response.json()).versions;
    for (const version of versions.slice().reverse()) {
      const row = document.createElement("li");
      row.dataset.sequence = String(version.sequence_number);
      const what = version.deleted ? "deleted" : version.size + " bytes";
      row.append(document.createTextNode(
        "#" + version.sequence_number + " \u00b7 " + (version.created || "?") + " \u00b7 " + what));
      if (!version.deleted) {
        row.append(button("View", "view-version", () => openVersion(key, version)));
      }
      if (version.created) {
        row.append(button("Store as of this time", "as-of-version",
          () => showSnapshot(version.created)));
      }
      list.append(row);
    }
    $("history").hidden = false;
  }

  async function openVersion(key, version) {
    const path = "/_kv/history/" + keyPath(key);
    const response = await api(withQuery(path, { sequence_number: version.sequence_number }));
    if (!response.ok) throw await apiError(response, "Reading the version");
    const bytes = new Uint8Array(await response.arrayBuffer());
    render(key, bytes, null, "version #" + version.sequence_number + " of " + version.created);
    state.current = { key: key, etag: null, text: null, version: version.sequence_number };
    $("edit").hidden = true;
    $("delete").disabled = true;
    $("viewer-title").focus();
  }

  // -- writes -------------------------------------------------------------------------------

  function startEdit() {
    const current = state.current;
    if (!current || current.text === null) return;
    $("edit-value").value = current.text;
    $("edit-form").hidden = false;
    $("edit-value").focus();
  }

  const CONFLICT = "Conflict: this key was changed by someone else since you opened it, " +
    "so your change was not saved. Reload to see the current value.";

  async function save() {
    const current = state.current;
    if (!current || !current.etag) throw new UiError("Open the key again before editing it.");
    const response = await api("/" + keyPath(current.key), {
      method: "PUT",
      headers: { "If-Match": current.etag, "Content-Type": "application/octet-stream" },
      body: new TextEncoder().encode($("edit-value").value),
    });
    if (response.status === 412) throw new UiError(CONFLICT);
    if (!response.ok) throw await apiError(response, "Saving");
    await openKey(current.key);
    say("Saved \u201c" + current.key + "\u201d.", false);
  }

  async function confirmDelete() {
    const current = state.current;
    if (!current || !current.etag) return;
    const response = await api("/" + keyPath(current.key), {
      method: "DELETE",
      headers: { "If-Match": current.etag },
    });
    if (response.status === 412) throw new UiError(CONFLICT.replace("change", "delete"));
    if (response.status === 404) throw new UiError("The key was already deleted.");
    if (!response.ok) throw await apiError(response, "Deleting");
    $("viewer").hidden = true;
    state.current = null;
    await openFolder(state.prefix);
    say("Deleted \u201c" + current.key + "\u201d.", false);
  }

  async function create() {
    const key = $("create-key").value;
    if (!key) throw new UiError("Enter a key.");
    const response = await api("/" + keyPath(key), {
      method: "PUT",
      headers: { "If-None-Match": "*", "Content-Type": "application/octet-stream" },
      body: new TextEncoder().encode($("create-value").value),
    });
    if (response.status === 412) {
      throw new UiError("The key \u201c" + key + "\u201d already exists; nothing was changed.");
    }
    if (!response.ok) throw await apiError(response, "Creating \u201c" + key + "\u201d");
    $("create-key").value = "";
    $("create-value").value = "";
    await openFolder(state.prefix);
    await openKey(key);
    say("Created \u201c" + key + "\u201d.", false);
  }

  // -- wiring -------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", guarded(useToken));
    $("token-forget").addEventListener("click", guarded(forgetToken));
    $("search-form").addEventListener("submit", guarded(search));
    $("snapshot-form").addEventListener("submit", guarded(() => showSnapshot(null)));
    $("as-of-clear").addEventListener("click", guarded(showPresent));
    $("as-of-picker").addEventListener("change", () => {
      // datetime-local holds a local time without zone; the API takes UTC.
      const picked = new Date($("as-of-picker").value);
      if (!Number.isNaN(picked.getTime())) $("as-of-input").value = picked.toISOString();
    });
    $("more").addEventListener("click", guarded(more));
    $("create-form").addEventListener("submit", guarded(create));
    $("edit").addEventListener("click", guarded(startEdit));
    $("edit-form").addEventListener("submit", guarded(save));
    $("cancel").addEventListener("click", guarded(() => { $("edit-form").hidden = true; }));
    $("delete").addEventListener("click", guarded(() => {
      $("delete-confirm").hidden = false;
      $("delete-confirm").focus();
    }));
    $("delete-confirm").addEventListener("click", guarded(confirmDelete));
    $("reload").addEventListener("click", guarded(() => {
      if (state.current) return openKey(state.current.key);
      return undefined;
    }));
    guarded(start)().then(() => { document.body.dataset.ready = "1"; });
  });
})();
