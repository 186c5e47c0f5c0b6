// The phone menu: the button shows or hides the main navigation; on wide screens CSS hides the button and
// always shows the navigation. Without this script the navigation simply stays open.
document.documentElement.classList.add("js");
for (const button of document.querySelectorAll(".menu-toggle")) {
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    document.getElementById(button.getAttribute("aria-controls")).classList.toggle("open", open);
  });
}
