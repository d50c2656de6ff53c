/* The pipeline board: drag a card to another stage column (mouse or touch, through
   SortableJS). The drop posts the move through htmx (the CSRF header comes from
   <body hx-headers>); the server answers with the whole board, so a refused move
   snaps back with its message and the counts and sums follow an accepted one.
   Without JavaScript each card's stage select and Move button do the same. */
(function () {
  "use strict";

  function setup(root) {
    var columns = root.querySelectorAll ? root.querySelectorAll("[data-board-column]") : [];
    Array.prototype.forEach.call(columns, function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "board",
        draggable: "[data-card]",
        filter: "form, select, button",
        preventOnFilter: false,
        animation: 120,
        delayOnTouchOnly: true,
        delay: 120,
        onEnd: function (evt) {
          if (evt.from === evt.to) return;
          var card = evt.item;
          card.classList.add("moving");
          htmx.ajax("POST", card.dataset.moveUrl, {
            source: card,
            target: "#board",
            swap: "outerHTML",
            values: { stage_id: evt.to.dataset.stageId, board: "1" }
          });
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:load", function (evt) { setup(evt.target.parentNode || document); });
})();
