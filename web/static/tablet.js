// A shared shop tablet goes back to the shop screen after a minute without a tap or a key, so the next person
// does not find the previous mentor's pages open. Any tap or key starts the minute again (a meta refresh could
// not, and would cut off a mentor in the middle of typing a note).
const idleHome = document.body.dataset.idleReturn;
if (idleHome) {
  let timer;
  const restart = () => {
    clearTimeout(timer);
    timer = setTimeout(() => window.location.assign(idleHome), 60000);
  };
  for (const kind of ["pointerdown", "keydown", "input", "scroll"]) {
    window.addEventListener(kind, restart, {passive: true, capture: true});
  }
  restart();
}
