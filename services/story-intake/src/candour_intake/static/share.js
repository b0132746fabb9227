// Progressive enhancement for the share form: the form works without this file.
(function () {
  "use strict";

  // The page's words (English or Welsh) come from data- attributes the server
  // translated; {name} in them is filled in here.
  var words_of = function (element, name, fallback, values) {
    var text = (element && element.getAttribute("data-" + name)) || fallback;
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      return key in values ? values[key] : whole;
    });
  };

  // A live word count against the limit, announced politely to screen readers.
  var body = document.getElementById("body");
  var count = document.getElementById("body-count");
  if (body && count) {
    var max = parseInt(body.getAttribute("data-max-words"), 10) || 1000;
    var update = function () {
      var text = body.value.trim();
      var words = text ? text.split(/\s+/).length : 0;
      var values = {
        words: words.toLocaleString("en-GB"),
        max: max.toLocaleString("en-GB"),
        left: Math.max(max - words, 0).toLocaleString("en-GB"),
        over: Math.max(words - max, 0).toLocaleString("en-GB")
      };
      if (words > max) {
        count.textContent = words_of(count, "too-many",
          "You have {over} words too many ({words} of {max})", values);
        count.className = "nhsuk-error-message";
      } else {
        count.textContent = words_of(count, "remaining",
          "You have {left} words remaining ({words} of {max})", values);
        count.className = "nhsuk-hint";
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
    label.className = "nhsuk-label";
    label.setAttribute("for", "place-filter");
    label.textContent = words_of(slot, "label", "Search the list", {});
    var input = document.createElement("input");
    input.type = "search";
    input.className = "nhsuk-input";
    input.id = "place-filter";
    input.setAttribute("autocomplete", "off");
    input.setAttribute("aria-controls", "place");
    slot.appendChild(label);
    slot.appendChild(input);
    var status = document.getElementById("place-filter-status");
    // Every word typed must appear somewhere in the name, in any order:
    // "mental leeds" finds "Mental health services – Leeds ... Trust".
    var matchesAll = function (words, text) {
      var haystack = text.toLowerCase();
      for (var w = 0; w < words.length; w++) {
        if (haystack.indexOf(words[w]) === -1) { return false; }
      }
      return true;
    };
    input.addEventListener("input", function () {
      var words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var groups = select.getElementsByTagName("optgroup");
      var shown = 0;
      for (var i = 0; i < groups.length; i++) {
        var group = groups[i];
        var anyOption = false;
        var options = group.getElementsByTagName("option");
        for (var j = 0; j < options.length; j++) {
          var matches = matchesAll(words, group.label + " " + options[j].text);
          options[j].hidden = !matches;
          anyOption = anyOption || matches;
          if (matches) { shown++; }
        }
        group.hidden = !anyOption;
      }
      if (status) {
        if (!words.length) {
          status.textContent = "";
        } else if (shown === 0) {
          status.textContent = words_of(slot, "no-match",
            "No organisation or service matches \u201c{words}\u201d. Try fewer or different " +
            "words, or choose from the whole list.", { words: input.value.trim() });
        } else if (shown === 1) {
          status.textContent = words_of(slot, "one-match", "{count} match in the list",
            { count: shown });
        } else {
          status.textContent = words_of(slot, "matches", "{count} matches in the list",
            { count: shown });
        }
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
