// Progressive enhancement for the author's private link: the pages work without it.
(function () {
  "use strict";

  // The confirmation page: a button that copies the private link.
  var button = document.getElementById("copy-follow-link");
  var status = document.getElementById("copy-status");
  if (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    // The page's words (English or Welsh), translated by the server into data- attributes.
    var said = function (name, fallback) {
      if (status) { status.textContent = status.getAttribute("data-" + name) || fallback; }
    };
    var copied = function () { said("copied", "Link copied"); };
    var copyYourself = function () { said("copy-yourself", "Select the link and copy it"); };
    var fallback = function () {
      field.focus();
      field.select();
      try {
        if (document.execCommand("copy")) { copied(); } else { copyYourself(); }
      } catch (e) {
        copyYourself();
      }
    };
    button.hidden = false;
    button.addEventListener("click", function () {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(
          copied, fallback);
      } else {
        fallback();
      }
    });
  }

  // The follow page opened from the private link: the reference and the code are in
  // the fragment (never sent to a server); fill the form and open the story.
  var story = document.getElementById("story");
  var code = document.getElementById("token");
  if (story && code && window.location.hash.length > 1) {
    var params = new URLSearchParams(window.location.hash.slice(1));
    if (params.get("story") && params.get("code")) {
      story.value = params.get("story");
      code.value = params.get("code");
      code.form.requestSubmit ? code.form.requestSubmit() : code.form.submit();
    }
  }
})();
