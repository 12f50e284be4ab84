// Form Post Response Mode: posts the authorization response to the client as soon as the page
// has loaded. Without JavaScript, the page's "Continue" button does the same.
"use strict";
(function () {
  var form = document.getElementById("form-post");
  if (form) {
    form.submit();
  }
})();
