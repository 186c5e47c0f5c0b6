// The tablet app's service worker, served as /sw.js (web/pages/pwa.py) so that its scope is the whole site.
// Online it stays out of the way: every request goes to the network as before. When a page cannot be reached
// it answers with the offline shell (/tablet/offline), which signs from the copy kept in IndexedDB.
// Pages carry personal data and are never cached here; only the shell and the files it needs are.

const CACHE = "mentoring-shell-v1";
const SHELL = "/tablet/offline";
const FILES = [SHELL, "/static/app.css", "/static/offline-core.js", "/static/offline-app.js",
  "/static/offline-tablet.js", "/static/tablet.js", "/manifest.webmanifest", "/favicon.ico",
  "/static/icons/icon-192.png", "/static/icons/icon-512.png", "/static/icons/maskable-192.png",
  "/static/icons/maskable-512.png"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// Network first, so a new release is used as soon as it is online; the cached copy is refreshed on the way.
async function fromNetworkElseCache(request, fallback) {
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && FILES.includes(new URL(request.url).pathname)) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(new URL(request.url).pathname, copy));
    }
    return response;
  } catch (error) {
    const cached = await caches.match(fallback, {ignoreSearch: true});
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fromNetworkElseCache(request, SHELL));
  } else if (FILES.includes(url.pathname)) {
    event.respondWith(fromNetworkElseCache(request, url.pathname));
  }
});
