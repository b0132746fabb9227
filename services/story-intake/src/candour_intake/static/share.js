// Progressive enhancement for the share form: the form works without this file.

// The page's words (English or Welsh) come from data- attributes the server
// translated; {name} in them is filled in here.
var candourWordsOf = function (element, name, fallback, values) {
  "use strict";
  var text = (element && element.getAttribute("data-" + name)) || fallback;
  return text.replace(/\{(\w+)\}/g, function (whole, key) {
    return key in values ? values[key] : whole;
  });
};

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
      var values = {
        words: words.toLocaleString("en-GB"),
        max: max.toLocaleString("en-GB"),
        left: Math.max(max - words, 0).toLocaleString("en-GB"),
        over: Math.max(words - max, 0).toLocaleString("en-GB")
      };
      if (words > max) {
        count.textContent = candourWordsOf(count, "too-many",
          "You have {over} words too many ({words} of {max})", values);
        count.className = "nhsuk-error-message";
      } else {
        count.textContent = candourWordsOf(count, "remaining",
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
    label.textContent = candourWordsOf(slot, "label", "Search the list", {});
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
          status.textContent = candourWordsOf(slot, "no-match",
            "No organisation or service matches \u201c{words}\u201d. Try fewer or different " +
            "words, or choose from the whole list.", { words: input.value.trim() });
        } else if (shown === 1) {
          status.textContent = candourWordsOf(slot, "one-match", "{count} match in the list",
            { count: shown });
        } else {
          status.textContent = candourWordsOf(slot, "matches", "{count} matches in the list",
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

// "Check my story": "Remove it" puts the replacement in at once, without a round trip,
// when the text in the form is still the text that was checked (otherwise the button
// posts the form and the server checks it again).
(function () {
  "use strict";
  var section = document.getElementById("story-check");
  if (!section) { return; }
  var status = document.getElementById("story-check-status");
  var pending = function () {
    return Array.prototype.slice.call(section.querySelectorAll("button.story-check__remove"));
  };
  var fits = function (button) {
    var input = document.getElementById(button.getAttribute("data-field"));
    if (!input) { return false; }
    var start = parseInt(button.getAttribute("data-start"), 10);
    var end = parseInt(button.getAttribute("data-end"), 10);
    return input.value.slice(start, end) === button.getAttribute("data-text");
  };
  var remove = function (button) {
    var field = button.getAttribute("data-field");
    var input = document.getElementById(field);
    var start = parseInt(button.getAttribute("data-start"), 10);
    var end = parseInt(button.getAttribute("data-end"), 10);
    var replacement = button.getAttribute("data-replacement");
    input.value = input.value.slice(0, start) + replacement + input.value.slice(end);
    // Later details in the same field move by the change in length.
    var shift = replacement.length - (end - start);
    pending().forEach(function (other) {
      if (other !== button && other.getAttribute("data-field") === field &&
          parseInt(other.getAttribute("data-start"), 10) >= end) {
        other.setAttribute("data-start", parseInt(other.getAttribute("data-start"), 10) + shift);
        other.setAttribute("data-end", parseInt(other.getAttribute("data-end"), 10) + shift);
        other.value = field + ":" + other.getAttribute("data-start") + ":" +
          other.getAttribute("data-end");
      }
    });
    var number = button.getAttribute("data-detail");
    var mark = document.getElementById("detail-" + number);
    if (mark) {
      var done = document.createElement("span");
      done.className = "story-check__removed";
      done.textContent = replacement;
      mark.parentNode.replaceChild(done, mark);
    }
    var item = document.getElementById("detail-item-" + number);
    if (item) {
      var note = document.createElement("span");
      note.textContent = candourWordsOf(section, "taken-out",
        "\u201c{text}\u201d was taken out: {replacement} is in its place.",
        {text: button.getAttribute("data-text"), replacement: replacement});
      item.replaceChild(note, item.firstElementChild);
      item.removeChild(button);
    }
  };
  var afterwards = function (message) {
    var left = pending().length;
    if (status) {
      var rest = left === 0 ? candourWordsOf(section, "none-left", "Nothing we found is left.", {})
        : left === 1 ? candourWordsOf(section, "one-left", "1 detail is still highlighted.", {})
        : candourWordsOf(section, "many-left", "{count} details are still highlighted.", {count: left});
      status.textContent = message + " " + rest;
    }
    var all = document.getElementById("remove-all");
    if (all && left < 2) { all.parentNode.removeChild(all); }
    // The button pressed is gone: keep the keyboard where the author was.
    var next = pending()[0];
    if (next) { next.focus(); } else { section.focus(); }
  };
  section.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button") : null;
    if (!button || !section.contains(button)) { return; }
    if (button.classList.contains("story-check__remove")) {
      if (!fits(button)) { return; }  // the text changed: let the server check it again
      event.preventDefault();
      remove(button);
      afterwards(candourWordsOf(section, "took-it-out", "We took it out.", {}));
    } else if (button.id === "remove-all") {
      var buttons = pending();
      if (!buttons.every(fits)) { return; }
      event.preventDefault();
      // From the last to the first, so no removal moves one still to come.
      buttons.sort(function (a, b) {
        return parseInt(b.getAttribute("data-start"), 10) - parseInt(a.getAttribute("data-start"), 10);
      }).forEach(remove);
      afterwards(candourWordsOf(section, "took-all-out", "We took every detail out.", {}));
    }
  });
  // Straight to the check, unless where to get help comes first.
  if (!document.getElementById("help-now")) { section.focus(); }
})();
