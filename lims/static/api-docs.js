// Starts Swagger UI on /api/v1/docs. It lives in a file because the site's CSP refuses inline scripts.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.description,
    domNode: root,
    deepLinking: true,
    // The default validator is an image from another site, which the CSP refuses.
    validatorUrl: null,
  });
});
