// On the shop screen and a mentor's pages on a shop tablet: install the service worker, keep the offline copy
// fresh, send queued signatures, show the connection and the queue, and warn before "Done" while signatures
// wait to be sent.
import {counts, keepInSync, registerWorker, watchStatus} from "./offline-core.js";

registerWorker();
watchStatus(document.getElementById("net-status"));
// The shop screen takes a fresh copy each time it opens: it follows every mentor's turn, which may have
// signed tasks or given this tablet the mentor's PIN verifier. A mentor's pages take one if it is 5 minutes old.
keepInSync(document.getElementById("net-status")?.hasAttribute("data-fresh-copy") ? 0 : 300);

const done = document.querySelector("form[action='/tablet/done']");
if (done) {
  done.addEventListener("submit", async (event) => {
    if (done.dataset.confirmed) return;
    event.preventDefault();
    if (!navigator.onLine) { // the server cannot be told; the turn ends by itself after a minute
      window.location.assign("/tablet/offline");
      return;
    }
    const {queued} = await counts();
    const warning = `${queued} signature${queued === 1 ? " is" : "s are"} saved on this tablet and not sent yet. ` +
      "They stay on the tablet and are sent when the connection returns. Hand the tablet back anyway?";
    if (queued === 0 || window.confirm(warning)) {
      done.dataset.confirmed = "1";
      done.requestSubmit();
    }
  });
}
