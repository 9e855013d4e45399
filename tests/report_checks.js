(function () {
  var root = document.documentElement, errors = [];
  function note(message) { errors.push(String(message)); root.setAttribute("data-errors", errors.join(" | ")); }
  window.addEventListener("error", function (e) {
    var t = e.target;
    note(e.message || ("failed to load " + ((t && (t.src || t.href)) || "a resource")));
  }, true);
  document.addEventListener("securitypolicyviolation", function (e) { note("blocked " + e.blockedURI); });
  window.addEventListener("load", function () {
    var images = document.images, loaded = 0;
    for (var i = 0; i < images.length; i++) {
      if (images[i].complete && images[i].naturalWidth > 0) { loaded++; } else { note("image not shown: " + images[i].alt); }
    }
    // Tables fit the page: none of the ones shown unfolded needs to scroll sideways (folded detail tables may
    // scroll inside their box), and nothing makes the page itself wider than the window.
    var wraps = document.querySelectorAll(".table-wrap"), scrolling = [];
    for (var j = 0; j < wraps.length; j++) {
      if (!wraps[j].closest("details:not([open])") && wraps[j].scrollWidth > wraps[j].clientWidth + 1) {
        var title = wraps[j].previousElementSibling;
        scrolling.push(title ? title.textContent : "table " + j);
      }
    }
    root.setAttribute("data-tables", String(wraps.length));
    root.setAttribute("data-scrolling-tables", scrolling.join(" | "));
    root.setAttribute("data-page-overflow", String(document.documentElement.scrollWidth > window.innerWidth));
    root.setAttribute("data-images", String(images.length));
    root.setAttribute("data-images-loaded", String(loaded));
    root.setAttribute("data-ready", "1");
  });
})();
