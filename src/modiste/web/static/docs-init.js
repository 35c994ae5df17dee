/* Starts Swagger UI on /docs: a file, not an inline script, so the page keeps a 'self' CSP. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  // FastAPI's defaults but deepLinking; the schema URL comes from the page (the server knows where it is).
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // no deep links: they put a link inside each operation's toggle button, which screen
    // readers cannot reach (axe: nested-interactive, a serious violation)
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
