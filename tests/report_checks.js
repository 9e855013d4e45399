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
    root.setAttribute("data-images", String(images.length));
    root.setAttribute("data-images-loaded", String(loaded));
    root.setAttribute("data-ready", "1");
  });
})();
