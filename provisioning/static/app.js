// menwei staff page: the little script the pages need (served locally; no inline scripts).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll("img[data-refresh]")) {
    const every = Number(img.dataset.every || 1000);
    const tick = () => {
      const next = new Image();
      next.onload = () => { img.src = next.src; setTimeout(tick, every); };
      next.onerror = () => setTimeout(tick, every * 4);
      next.src = img.dataset.refresh + "?t=" + Date.now();
    };
    setTimeout(tick, every);
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
});
