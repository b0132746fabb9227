// Progressive enhancement for the share form: the form works without this file.
(function () {
  "use strict";

  // A live word count against the limit, announced politely to screen readers.
  var body = document.getElementById("body");
  var count = document.getElementById("body-count");
  if (body && count) {
    var max = parseInt(body.getAttribute("data-max-words"), 10) || 1000;
    var update = function () {
      var text = body.value.trim();
      var words = text ? text.split(/\s+/).length : 0;
      if (words > max) {
        count.textContent = "You have " + (words - max).toLocaleString("en-GB") +
          " words too many (" + words.toLocaleString("en-GB") + " of " +
          max.toLocaleString("en-GB") + ")";
        count.className = "field-error";
      } else {
        count.textContent = "You have " + (max - words).toLocaleString("en-GB") +
          " words remaining (" + words.toLocaleString("en-GB") + " of " +
          max.toLocaleString("en-GB") + ")";
        count.className = "hint";
      }
    };
    body.addEventListener("input", update);
    update();
  }

  // A search box that narrows the organisation list as you type.
  var select = document.getElementById("place");
  var slot = document.getElementById("place-filter-slot");
  if (select && slot) {
    var label = document.createElement("label");
    label.setAttribute("for", "place-filter");
    label.textContent = "Search the list";
    var input = document.createElement("input");
    input.type = "search";
    input.id = "place-filter";
    input.setAttribute("autocomplete", "off");
    input.setAttribute("aria-controls", "place");
    slot.appendChild(label);
    slot.appendChild(input);
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var groups = select.getElementsByTagName("optgroup");
      for (var i = 0; i < groups.length; i++) {
        var group = groups[i];
        var groupMatches = group.label.toLowerCase().indexOf(needle) !== -1;
        var anyOption = false;
        var options = group.getElementsByTagName("option");
        for (var j = 0; j < options.length; j++) {
          var matches = groupMatches || options[j].text.toLowerCase().indexOf(needle) !== -1;
          options[j].hidden = !matches;
          anyOption = anyOption || matches;
        }
        group.hidden = !anyOption;
      }
    });
  }
})();

// After a failed submission, move focus to the list of problems so it is read first.
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
})();
