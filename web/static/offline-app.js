// The offline shell (/tablet/offline, and any tablet page the service worker cannot fetch): shop screen →
// PIN → the mentor's mentees → a mentee's tasks → a task → sign. Everything comes from the copy kept in
// IndexedDB; a signature goes into the queue with a proof made with the mentor's PIN key, which lives in
// this page's memory for the mentor's turn only and is never stored.
import {
  canonicalEvent, countAttempt, counts, hmacHex, isOnline, kvGet, lockedFor, queueAdd, queueAll, registerWorker,
  sha256Hex, sync, unlockKey, watchStatus,
} from "./offline-core.js";

const app = document.getElementById("app");
const IDLE_MS = 60000; // as online: a minute without a tap ends the turn
const MAX_PHOTO_BYTES = 8 * 1024 * 1024; // mentoring/progress/evidence.py
const VIN_CHARS = /^[0-9A-HJ-NPR-Z]{17}$/;
const RO_PATTERN = /^[A-Za-z0-9/-]{1,30}$/;
const STATUS = {not_started: "Not started", practicing: "Practicing", ready: "Ready for sign-off", signed: "Signed"};

let turn = null; // {mentorId, key}: the mentor whose PIN was checked, and their HMAC key
let idleTimer;

// --- small DOM helpers: text goes in as text, never as markup ---------------------------------------------

function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

function show(title, ...content) {
  document.title = `${title} · Shop tablet`;
  const heading = h("h1", {tabindex: "-1"}, title);
  app.replaceChildren(heading, ...content);
  heading.focus(); // a screen reader hears the new screen's name
}

const go = (hash) => { window.location.hash = hash; };

function endTurn() {
  turn = null;
  clearTimeout(idleTimer);
}

function touch() {
  clearTimeout(idleTimer);
  if (turn) idleTimer = setTimeout(() => { endTurn(); go("#/"); }, IDLE_MS);
}

// --- the data ----------------------------------------------------------------------------------------------

async function snapshot() {
  return kvGet("snapshot");
}

function mentorIn(snap, id) {
  return snap?.mentors.find((m) => m.id === id);
}

function menteeOf(mentor, assignmentId) {
  return mentor?.mentees.find((a) => a.assignment_id === assignmentId);
}

function taskIn(mentee, code) {
  for (const area of mentee?.areas || []) {
    const task = area.tasks.find((t) => t.code === code);
    if (task) return {area, task};
  }
  return null;
}

// Signatures already queued on this tablet for this mentee, by task code.
async function queuedFor(assignmentId) {
  const byCode = new Map();
  for (const item of await queueAll()) {
    if (item.event.assignment_id === assignmentId) byCode.set(item.event.task_code, item);
  }
  return byCode;
}

// --- screens -----------------------------------------------------------------------------------------------

function backToShop() {
  return h("p", {}, h("a", {href: "#/", onclick: endTurn}, "← Back to the shop screen"));
}

async function shopScreen(snap) {
  endTurn();
  if (!snap) {
    show("No copy on this tablet yet",
      h("p", {}, "This tablet keeps what mentors need to sign once it has been online on the shop screen. " +
        "Open the shop screen while the connection works, then signing also works without it."),
      h("p", {}, h("a", {class: "button primary", href: "/tablet"}, "Open the shop screen")));
    return;
  }
  const taken = new Date(snap.generated_at);
  const tiles = snap.mentors.map((m) => h("li", {},
    h("a", {class: "tile", href: `#/m/${m.id}`}, h("strong", {}, m.name),
      m.verifier ? null : h("span", {}, "Sign in here once while online to sign offline"))));
  show("Who is signing?",
    isOnline() ? h("p", {class: "notice"}, "The connection works: ",
      h("a", {href: "/tablet"}, "use the normal shop screen"), ".") : null,
    h("p", {class: "muted"}, `Shop tablet “${snap.device.name}” at ${snap.device.shop_name}. ` +
      `The copy of the task lists is from ${taken.toLocaleString()}. Tap your name, then enter your PIN.`),
    snap.capped ? h("p", {class: "notice"}, `The copy holds ${snap.limits.max_mentees} mentees at most; ` +
      `${snap.left_out} more can be signed only online.`) : null,
    h("ul", {class: "tiles big"}, tiles.length ? tiles : h("li", {class: "muted"}, "No mentors in the copy.")));
}

async function pinScreen(snap, mentorId) {
  endTurn();
  const mentor = mentorIn(snap, mentorId);
  if (!mentor) return shopScreen(snap);
  if (!mentor.verifier) {
    show(mentor.name,
      h("p", {}, "Your PIN cannot be checked on this tablet without the connection yet. Enter it once on this " +
        "tablet while it is online; from then on you can also sign here offline."),
      backToShop());
    return;
  }
  const locked = await lockedFor(mentorId);
  if (locked) {
    show(mentor.name,
      h("p", {class: "alert", role: "alert"}, `Too many wrong PINs: try again in ${Math.ceil(locked / 60)} minutes.`),
      backToShop());
    return;
  }
  const error = h("p", {class: "error", id: "e-pin", role: "alert"});
  const input = h("input", {id: "f-pin", name: "pin", type: "password", inputmode: "numeric", autocomplete: "off",
    required: true, "aria-describedby": "e-pin"});
  const button = h("button", {class: "primary big", type: "submit"}, "Continue");
  const form = h("form", {novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = "Checking…"; // a slow key derivation on purpose: it is what protects the PIN
    const key = await unlockKey(mentor.verifier, input.value);
    await countAttempt(mentorId, Boolean(key), snap.limits);
    input.value = "";
    button.disabled = false;
    if (!key) {
      const lockedNow = await lockedFor(mentorId);
      if (lockedNow) return pinScreen(snap, mentorId);
      error.textContent = "That PIN is not right.";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    turn = {mentorId, key};
    touch();
    go(`#/m/${mentorId}/mentees`);
  }}, h("div", {class: "field"}, h("label", {for: "f-pin"}, "Your PIN"), input, error), button);
  show(mentor.name, h("section", {class: "card narrow"}, form, backToShop()));
  input.focus();
}

function menteesScreen(snap, mentor) {
  const tiles = mentor.mentees.map((a) => h("li", {},
    h("a", {class: "tile", href: `#/m/${mentor.id}/a/${a.assignment_id}`}, h("strong", {}, a.name),
      h("span", {}, a.list_title))));
  show(`${mentor.name}: your mentees`,
    h("ul", {class: "tiles big"}, tiles.length ? tiles : h("li", {class: "muted"}, "No mentees to sign for here.")),
    h("p", {}, h("button", {type: "button", onclick: () => { endTurn(); go("#/"); }}, "Done")));
}

async function tasksScreen(snap, mentor, mentee) {
  const queued = await queuedFor(mentee.assignment_id);
  const areas = mentee.areas.map((area) => h("section", {class: "card"},
    h("h2", {}, `${area.code}. ${area.title}`),
    h("ul", {class: "rows"}, area.tasks.map((t) => {
      const waiting = queued.get(t.code);
      const state = waiting ? (waiting.state === "queued" ? "Signed on this tablet, waiting to be sent"
        : waiting.state === "conflict" ? "Signed on this tablet; a conflict for the manager"
          : "Signed on this tablet but refused") : t.applicable ? STATUS[t.status] || t.status : "Not applicable";
      const open = t.applicable && t.status !== "signed" && !waiting;
      const label = h("span", {class: "row-main"}, h("strong", {}, t.code), " ", t.statement,
        h("span", {class: "state"}, state));
      return h("li", {class: `row status-${waiting ? "queued" : t.status}${t.applicable ? "" : " na"}`},
        open ? h("a", {class: "row-main", href: `#/m/${mentor.id}/a/${mentee.assignment_id}/t/${encodeURIComponent(t.code)}`},
          label) : label);
    }))));
  show(`${mentee.name}: ${mentee.list_title}`,
    h("p", {}, h("a", {href: `#/m/${mentor.id}/mentees`}, "← Your mentees")), ...areas);
}

function vinProblem(vin) {
  if (!vin) return "";
  if (/[IOQ]/.test(vin)) return "A VIN never contains the letters I, O or Q; check for the digits 1 and 0.";
  if (!VIN_CHARS.test(vin)) return `A VIN has 17 letters and digits; this one has ${vin.length} characters.`;
  return "";
}

function signScreen(snap, mentor, mentee, area, task) {
  const ratings = h("fieldset", {class: "ratings"}, h("legend", {}, "Rating"),
    snap.ratings.map((r) => h("label", {class: "rating"},
      h("input", {type: "radio", name: "rating", value: String(r.value), checked: r.value === 3}),
      h("span", {}, h("strong", {}, String(r.value)), " ", r.label))));
  const field = (name, label, input, help) => h("div", {class: "field"}, h("label", {for: `f-${name}`}, label), input,
    help ? h("small", {}, help) : null, h("p", {class: "error", id: `e-${name}`}));
  const ro = h("input", {id: "f-ro_number", name: "ro_number", "aria-describedby": "e-ro_number"});
  const vin = h("input", {id: "f-vin", name: "vin", "aria-describedby": "e-vin"});
  const note = h("textarea", {id: "f-note", name: "note", "aria-describedby": "e-note"});
  const photo = h("input", {id: "f-photo", name: "photo", type: "file", accept: "image/jpeg,image/png",
    capture: "environment", "aria-describedby": "e-photo"});
  const button = h("button", {class: "primary big", type: "submit"}, `Sign ${task.code} on this tablet`);
  const form = h("form", {novalidate: true}, ratings,
    field("ro_number", "Repair-order number", ro), field("vin", "VIN", vin, "17 characters, from the VIN plate."),
    field("note", "Note", note), field("photo", "Photo", photo),
    h("p", {class: "queued-note"}, "No connection is needed: your signature is saved on this tablet and sent " +
      "when the connection returns."), button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = {};
    const vinValue = vin.value.replace(/[\s-]/g, "").toUpperCase();
    const roValue = ro.value.trim();
    problems.vin = vinProblem(vinValue);
    if (roValue && !RO_PATTERN.test(roValue)) {
      problems.ro_number = "A repair-order number has at most 30 letters, digits, '-' and '/'.";
    }
    const file = photo.files[0] || null;
    if (file && (file.size > MAX_PHOTO_BYTES || !["image/jpeg", "image/png"].includes(file.type))) {
      problems.photo = "Only a JPEG or PNG photo of at most 8 MB can be attached.";
    }
    for (const name of ["ro_number", "vin", "photo"]) {
      form.querySelector(`#e-${name}`).textContent = problems[name] || "";
      form.querySelector(`#f-${name}`).toggleAttribute("aria-invalid", Boolean(problems[name]));
    }
    const first = Object.keys(problems).find((k) => problems[k]);
    if (first) return form.querySelector(`#f-${first}`).focus();
    if (!turn || turn.mentorId !== mentor.id) return go(`#/m/${mentor.id}`);
    button.disabled = true;
    const photoBytes = file ? await file.arrayBuffer() : null;
    // Chromium sends line breaks in multipart text as CR LF whatever the string held (as for any form); the
    // proof must cover the bytes the server receives, so the note is signed with CR LF breaks already.
    const noteValue = note.value.trim().replace(/\r\n|\r|\n/g, "\r\n");
    const eventFields = {
      assignment_id: mentee.assignment_id, base_version: task.version, device_id: snap.device.id,
      device_time: new Date().toISOString(), idempotency_key: crypto.randomUUID(), mentor_id: mentor.id,
      note: noteValue, photo_sha256: photoBytes ? await sha256Hex(photoBytes) : "",
      rating: Number(form.querySelector("input[name=rating]:checked")?.value || 3), ro_number: roValue,
      task_code: task.code, vin: vinValue,
    };
    const proof = await hmacHex(turn.key, canonicalEvent(eventFields));
    await queueAdd({
      state: "queued", event: eventFields, proof, mentor_name: mentor.name, mentee_name: mentee.name,
      statement: task.statement, photo: file ? new Blob([photoBytes], {type: file.type}) : null,
      photo_name: file?.name || "",
    });
    signedScreen(mentor, mentee, task);
    if (navigator.onLine) sync(); // the connection may be back already
  });
  show(`${task.code} for ${mentee.name}`,
    h("p", {}, h("a", {href: `#/m/${mentor.id}/a/${mentee.assignment_id}`}, `← ${mentee.name}`)),
    h("p", {class: "statement big"}, task.statement),
    h("p", {class: "muted"}, `${area.code}. ${area.title} · ${task.priority || ""}`),
    h("section", {class: "card"}, h("h2", {}, `Sign off for ${mentee.name}`), form));
}

function signedScreen(mentor, mentee, task) {
  show(`${task.code} is signed for ${mentee.name}`,
    h("section", {class: "card signed confirmation", role: "status"},
      h("p", {}, h("strong", {}, "Saved on this tablet."),
        " It has not reached the server yet: the tablet sends it by itself when the connection returns."),
      h("p", {}, task.statement),
      h("p", {}, `Signed by ${mentor.name}.`)),
    h("p", {class: "actions"},
      h("a", {class: "button", href: `#/m/${mentor.id}/a/${mentee.assignment_id}`}, `Another task for ${mentee.name}`),
      h("button", {type: "button", class: "primary", onclick: () => { endTurn(); go("#/"); }}, "Done")));
}

async function queueScreen() {
  const items = await queueAll();
  const stateText = {queued: "Waiting to be sent", conflict: "Conflict", refused: "Refused"};
  const rows = items.map((i) => h("li", {class: `row state-${i.state}`},
    h("span", {class: "row-main"},
      h("strong", {}, `${i.event.task_code} · ${i.mentee_name}`),
      h("span", {}, `Signed by ${i.mentor_name} on ${new Date(i.event.device_time).toLocaleString()}` +
        (i.photo ? " · with a photo" : "")),
      h("span", {class: "state"}, `${stateText[i.state] || i.state}${i.detail ? ": " + i.detail : ""}`))));
  const {queued} = await counts();
  show("Signatures on this tablet",
    h("p", {}, queued ? "These are saved on this tablet. They are sent in this order as soon as the connection " +
      "returns; nothing needs to be done." : "Nothing is waiting to be sent."),
    rows.length ? h("ul", {class: "rows", id: "queue"}, rows) : null,
    h("p", {}, "A refused signature was not recorded (the reason is shown): sign the task again online. A " +
      "conflict was kept on the server for the mentor or the manager to sort out."),
    backToShop());
}

// --- routing -----------------------------------------------------------------------------------------------

// The service worker also answers for tablet pages it could not fetch, e.g. /tablet/mentors/7: start there.
function initialHash() {
  if (window.location.hash.length > 1) return;
  const mentor = window.location.pathname.match(/^\/tablet\/mentors\/(\d+)$/);
  window.location.replace(mentor ? `#/m/${mentor[1]}` : "#/");
}

async function route() {
  const snap = await snapshot();
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "queue") return queueScreen();
  if (parts[0] !== "m" || !parts[1]) return shopScreen(snap);
  const mentorId = Number(parts[1]);
  const mentor = mentorIn(snap, mentorId);
  if (!mentor) return shopScreen(snap);
  if (parts.length === 2 || !turn || turn.mentorId !== mentorId) return pinScreen(snap, mentorId);
  touch();
  if (parts[2] === "mentees") return menteesScreen(snap, mentor);
  const mentee = menteeOf(mentor, Number(parts[3]));
  if (parts[2] !== "a" || !mentee) return go(`#/m/${mentorId}/mentees`);
  if (parts[4] !== "t") return tasksScreen(snap, mentor, mentee);
  const found = taskIn(mentee, parts[5]);
  if (!found) return go(`#/m/${mentorId}/a/${mentee.assignment_id}`);
  return signScreen(snap, mentor, mentee, found.area, found.task);
}

for (const kind of ["pointerdown", "keydown", "input"]) window.addEventListener(kind, touch, {passive: true});
window.addEventListener("hashchange", route);
window.addEventListener("offline-queue-changed", () => {
  if (window.location.hash === "#/queue") queueScreen();
});
registerWorker();
watchStatus(document.getElementById("net-status"));
initialHash();
route();
window.addEventListener("online", () => sync());
if (navigator.onLine) sync();
