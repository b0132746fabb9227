// Starts the NHS.UK frontend's components (header menu, error summary focus, radios and
// checkboxes with conditional parts). Every page works without it; as a module it runs
// only in browsers the frontend supports, and from this file because the
// Content-Security-Policy (script-src 'self') allows no inline script.
import { initAll } from "/static/nhsuk/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

// On a wide screen the search filters sit beside the results, so open their toggle
// (on a phone it stays closed and the results come first).
if (window.matchMedia("(min-width: 48.0625em)").matches) {
  for (const filters of document.querySelectorAll("details.search-filters")) {
    filters.open = true;
  }
}
