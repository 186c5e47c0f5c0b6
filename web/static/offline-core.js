// The shop tablet's offline layer, shared by the tablet pages (offline-tablet.js) and the offline shell
// (offline-app.js): the copy kept in IndexedDB, the queue of signatures, the PIN check and the sync.
// The interfaces are fixed in issue 15's contract: GET /tablet/offline/snapshot, POST /tablet/offline/events.

const DB_NAME = "mentoring-offline";
const encoder = new TextEncoder();

// --- IndexedDB: "kv" holds the snapshot and the PIN attempt counters; "queue" the signatures, in order ------

let opened;
function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("kv");
      request.result.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run(store, mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const request = work(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = transaction.onabort = () => reject(transaction.error);
  });
}

export const kvGet = (key) => run("kv", "readonly", (s) => s.get(key));
export const kvSet = (key, value) => run("kv", "readwrite", (s) => s.put(value, key));
export const kvDelete = (key) => run("kv", "readwrite", (s) => s.delete(key));
export const queueAll = () => run("queue", "readonly", (s) => s.getAll()); // in key order: the order signed
export const queuePut = (item) => run("queue", "readwrite", (s) => s.put(item));
export const queueDelete = (seq) => run("queue", "readwrite", (s) => s.delete(seq));

export async function queueAdd(item) {
  const seq = await run("queue", "readwrite", (s) => s.add(item));
  changed();
  return seq;
}

export async function counts() {
  const items = await queueAll();
  const of = (state) => items.filter((i) => i.state === state).length;
  return {queued: of("queued"), refused: of("refused"), conflict: of("conflict")};
}

// --- Canonical JSON, PBKDF2, HMAC (Python: json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False))

export const EVENT_KEYS = ["assignment_id", "base_version", "device_id", "device_time", "idempotency_key",
  "mentor_id", "note", "photo_sha256", "rating", "ro_number", "task_code", "vin"];

// EVENT_KEYS is in sorted order, so the object's keys come out sorted as Python's sort_keys puts them.
export function canonicalEvent(event) {
  return JSON.stringify(Object.fromEntries(EVENT_KEYS.map((k) => [k, event[k]])));
}

export const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
export const unhex = (text) => new Uint8Array((text.match(/../g) || []).map((h) => parseInt(h, 16)));

export async function deriveK(pin, saltHex, iterations) {
  const material = await crypto.subtle.importKey("raw", encoder.encode(pin), "PBKDF2", false, ["deriveBits"]);
  return crypto.subtle.deriveBits({name: "PBKDF2", hash: "SHA-256", salt: unhex(saltHex), iterations}, material, 256);
}

export const sha256Hex = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));

// The PIN's key as an HMAC key that cannot be read back out, or null when the PIN is wrong.
export async function unlockKey(verifier, pin) {
  const k = await deriveK(pin, verifier.salt, verifier.iterations);
  if (await sha256Hex(k) !== verifier.check) return null;
  return crypto.subtle.importKey("raw", k, {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
}

export async function hmacHex(key, text) {
  return hex(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
}

// --- Local PIN attempt limit (values from the snapshot's `limits`) -----------------------------------------

export async function lockedFor(mentorId) {
  const attempts = (await kvGet("attempts")) || {};
  const until = attempts[mentorId]?.until || 0;
  return Math.max(0, Math.ceil((until - Date.now()) / 1000));
}

export async function countAttempt(mentorId, ok, limits) {
  const attempts = (await kvGet("attempts")) || {};
  if (ok) {
    delete attempts[mentorId];
  } else {
    const entry = attempts[mentorId] || {count: 0, until: 0};
    entry.count += 1;
    if (entry.count >= (limits?.pin_attempts || 5)) {
      entry.count = 0;
      entry.until = Date.now() + 1000 * (limits?.lockout_seconds || 300);
    }
    attempts[mentorId] = entry;
  }
  await kvSet("attempts", attempts);
}

// --- Talking to the server -------------------------------------------------------------------------------

let reachable = true; // the last request got an answer; navigator.onLine alone misses "Wi-Fi but no server"

export const isOnline = () => navigator.onLine && reachable;

function changed() {
  window.dispatchEvent(new Event("offline-queue-changed"));
}

export async function refreshSnapshot() {
  if (!navigator.onLine) return null;
  const {queued} = await counts();
  let response;
  try {
    response = await fetch(`/tablet/offline/snapshot?queued=${queued}`, {cache: "no-store", credentials: "same-origin"});
  } catch {
    reachable = false;
    changed();
    return null;
  }
  reachable = true;
  if (response.status === 404) { // no longer a shop tablet (revoked): forget the mentors and their verifiers
    await kvDelete("snapshot");
  } else if (response.ok) {
    await kvSet("snapshot", await response.json());
    await kvSet("snapshot_at", Date.now());
  }
  changed();
  return response.ok;
}

function formOf(item) {
  const form = new FormData();
  for (const key of EVENT_KEYS) form.append(key, String(item.event[key]));
  form.append("proof", item.proof);
  if (item.photo) form.append("photo", item.photo, item.photo_name || "photo.jpg");
  return form;
}

const CONFLICT = "Conflict: this task changed on the server meanwhile. Both are kept; the mentor or the " +
  "manager decides which stands.";

// Send the queue in the order it was signed, one request per signature. Stops at the first network failure
// (the rest waits for the next try); a refusal is kept on the tablet with the server's reason, never dropped.
async function sendQueue() {
  const snapshot = await kvGet("snapshot");
  for (const item of await queueAll()) {
    if (item.state !== "queued") continue;
    let response;
    try {
      response = await fetch("/tablet/offline/events", {method: "POST", body: formOf(item), credentials: "same-origin",
        headers: {"x-csrftoken": snapshot?.csrf_token || ""}});
    } catch {
      reachable = false;
      return false;
    }
    reachable = true;
    const body = await response.json().catch(() => ({}));
    if (response.status === 201 || response.status === 200) {
      await queueDelete(item.seq);
    } else if (response.status === 409) {
      await queuePut({...item, state: "conflict", detail: CONFLICT, conflict_id: body.conflict_id});
    } else if (response.status === 422 || (response.status === 403 && body.status === "refused")) {
      await queuePut({...item, state: "refused", detail: String(body.detail || `Refused (${response.status}).`)});
    } else {
      // Anything else (an expired CSRF token, a busy server) is tried again later with a fresh snapshot.
      return false;
    }
    changed();
  }
  return true;
}

let syncing = null;

// Send what is queued, then take a fresh copy (which reports how many signatures are still waiting) unless the
// one kept is younger than `maxAge` seconds: a shop's copy can be a megabyte, so not on every page.
export function sync(maxAge = 0) {
  if (!navigator.onLine) return Promise.resolve(false);
  syncing ??= (async () => {
    try {
      const work = () => sendQueue();
      // One tab at a time: two tabs sending the same queue would only make duplicates for the server to skip.
      const sent = navigator.locks ? await navigator.locks.request("mentoring-offline-sync", work) : await work();
      if (Date.now() - ((await kvGet("snapshot_at")) || 0) >= maxAge * 1000) await refreshSnapshot();
      return sent;
    } finally {
      syncing = null;
      changed();
    }
  })();
  return syncing;
}

export function registerWorker() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(() => {}); // without it, pages work as before
  }
}

// --- The connection and queue line on every tablet page --------------------------------------------------

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export async function showStatus(element) {
  if (!element) return;
  const {queued, refused, conflict} = await counts();
  const online = isOnline();
  const parts = [online ? "" : "Signatures are saved on this tablet and sent when the connection returns."];
  parts.push(queued ? plural(queued, "signature", "signatures") + " waiting to be sent." : "No signatures waiting.");
  if (refused) parts.push(plural(refused, "signature was", "signatures were") + " refused.");
  if (conflict) parts.push(plural(conflict, "conflict", "conflicts") + " for the manager.");
  const state = document.createElement("strong");
  state.textContent = online ? "● Online." : "○ Offline.";  // the word says it; the colour only repeats it
  element.replaceChildren(state, " " + parts.filter(Boolean).join(" "));
  if (queued || refused || conflict) {
    const link = document.createElement("a");
    link.href = "/tablet/offline#/queue";
    link.textContent = "See the list";
    element.append(" ", link);
  }
  element.className = "net " + (online ? "online" : "offline");
  element.dataset.queued = String(queued);
  element.hidden = false;
}

export function watchStatus(element) {
  const update = () => showStatus(element);
  for (const kind of ["online", "offline", "offline-queue-changed"]) window.addEventListener(kind, update);
  update();
}

// Online: send the queue at load, when the connection returns and every minute. The copy is refreshed at load
// when older than `maxAge` seconds, when the connection returns, and otherwise every quarter of an hour.
export function keepInSync(maxAge) {
  window.addEventListener("online", () => sync());
  setInterval(() => sync(900), 60000);
  return sync(maxAge);
}
