/* The tablet viewer of a meeting, live over /ws/meetings/<id>/ (meetings/consumers.py).
 *
 * State and resume (../shared/domain/meetings.md, "Resume"): the server sends a snapshot
 * on every (re)connect; every state message (snapshot, position, materials, status)
 * carries the meeting's `seq`. seq ≤ mine: dropped; mine + 1: applied; further ahead: a
 * message was lost, so {"type": "resync"} asks for a snapshot. A snapshot older than
 * what this tablet has seen means the server's store was reset: everything is replaced.
 * A heartbeat every 20 s refreshes presence and returns the current seq (a lost last
 * message shows there); no answer within 10 s and the socket is dropped and reopened.
 * Reconnection backs off 0.5 s → 10 s with jitter, and is immediate when the tablet
 * wakes up (visibilitychange) or gets its network back (online); a 再接続中 banner shows
 * meanwhile. 4401 / 4403 close codes stop it (signed out / no longer a participant: the
 * pages are taken off the screen).
 *
 * Modes: a participant follows the presenter by default; turning a page or choosing a
 * material switches to free browsing, and 「発表者の画面に戻る」 returns. Forced sync (a
 * vote) keeps everyone on the presenter's page. A presenter's page turns move everyone.
 *
 * Images: `<image_base><version>/<page>.jpg` (`?z=2` for the 2× image used when
 * zoomed), prefetched for the presenter's material when the meeting opens and around
 * the page shown. The preloaded <img> element itself is put on the stage, so a page turn
 * never waits for the network. Plain ES5 for older iPad Safari; no inline script or
 * style (the CSP): the strings come from a JSON data block.
 */
(function () {
  "use strict";

  var root = document.getElementById("meeting-viewer");
  if (!root || !window.WebSocket) { return; }

  var MIN_DELAY = 500;
  var MAX_DELAY = 10000;
  var HEARTBEAT_MS = 20000;
  var PONG_TIMEOUT_MS = 10000;
  var GOTO_INTERVAL_MS = 300;
  var NOTE_SAVE_MS = 800;
  var PREFETCH_MAX = 200;
  var PREFETCH_PARALLEL = 3;
  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_FORBIDDEN = 4403;

  var S = {};
  try { S = JSON.parse(document.getElementById("viewer-strings").textContent); } catch (e) { S = {}; }
  function t(key, values) {
    var text = S[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }

  function $(id) { return document.getElementById(id); }
  var ui = {
    stage: $("viewer-stage"),
    image: $("viewer-image"),
    empty: $("viewer-empty"),
    mode: $("viewer-mode"),
    banner: $("viewer-connection"),
    select: $("viewer-material"),
    prev: $("viewer-prev"),
    next: $("viewer-next"),
    page: $("viewer-page"),
    follow: $("viewer-follow"),
    back: $("viewer-return"),
    zoom: $("viewer-zoom"),
    notesToggle: $("viewer-notes-toggle"),
    notes: $("viewer-notes"),
    noteText: $("viewer-note-text"),
    noteStatus: $("viewer-note-status"),
    toast: $("viewer-toast"),
    push: $("presenter-push"),
    force: $("presenter-force"),
    revoke: $("presenter-revoke"),
    presenceToggle: $("presenter-presence-toggle"),
    presence: $("presence-panel"),
    presenceList: $("presence-list"),
    presenceCount: $("presence-count"),
    confirm: $("viewer-confirm")
  };
  var presenter = root.getAttribute("data-presenter") === "1";

  // --- state -----------------------------------------------------------------------------

  var known = false;          // a snapshot has arrived
  var state = { seq: 0, status: "", forced: false, material: null, version: null, page: 1,
                materials: [], imageBase: "" };
  var view = { material: null, version: null, page: 1 };
  var mode = "follow";        // participants: "follow" or "free"
  var target = null;          // presenters: the material the bar acts on (null: the shown one)
  var pendingGoto = null;     // presenters: {material, page, at} not yet confirmed
  var lastGotoSent = 0;
  var gotoTimer = null;
  var materialsKey = "";
  var images = {};            // url -> preloaded HTMLImageElement
  var queue = [];             // urls waiting to be prefetched
  var loading = 0;
  var notes = {};             // version -> {page: {text, read_only}}
  var noteTimer = null;
  var noteDirty = null;       // {version, page, text}
  var zoom = 1;

  function materialById(id) {
    for (var i = 0; i < state.materials.length; i++) {
      if (state.materials[i].id === id) { return state.materials[i]; }
    }
    return null;
  }

  function showable(m) { return m && !m.revoked && m.version; }

  function imageUrl(version, page, big) {
    return state.imageBase + version + "/" + page + ".jpg" + (big ? "?z=2" : "");
  }

  // --- the socket ------------------------------------------------------------------------

  var socket = null;
  var attempt = 0;
  var reconnectTimer = null;
  var heartbeatTimer = null;
  var pongTimer = null;
  var everOpen = false;
  var stopped = false;

  function setSocketState(value) {
    root.setAttribute("data-socket", value);
    ui.banner.hidden = stopped ? ui.banner.hidden : (value === "open" || (value === "connecting" && !everOpen));
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function delayFor(n) {
    var cap = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, n));
    // Jitter in [cap/2, cap], never below the minimum: tablets on one access point spread out.
    return Math.max(MIN_DELAY, cap / 2 + Math.random() * (cap / 2));
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) { return; }
    var delay = delayFor(attempt);
    attempt += 1;
    reconnectTimer = window.setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function reconnectNow() {
    if (stopped) { return; }
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) { return; }
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = null; }
    attempt = 0;
    connect();
  }

  function heartbeat() {
    if (!send({ type: "ping", seq: state.seq })) { return; }
    if (pongTimer) { window.clearTimeout(pongTimer); }
    pongTimer = window.setTimeout(function () {
      // No answer: the connection is dead even if the browser has not noticed.
      pongTimer = null;
      if (socket) { try { socket.close(); } catch (e) { /* closing anyway */ } }
    }, PONG_TIMEOUT_MS);
  }

  function stopTimers() {
    if (heartbeatTimer) { window.clearInterval(heartbeatTimer); heartbeatTimer = null; }
    if (pongTimer) { window.clearTimeout(pongTimer); pongTimer = null; }
  }

  function connect() {
    if (stopped) { return; }
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    setSocketState("connecting");
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + root.getAttribute("data-socket-path"));
    } catch (e) {
      setSocketState("closed");
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", function () {
      if (socket !== ws) { return; }
      attempt = 0;
      everOpen = true;
      setSocketState("open");
      stopTimers();
      heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
      // The server sends the snapshot by itself after joining the group.
    });
    ws.addEventListener("message", function (event) {
      if (socket === ws) { onMessage(event); }
    });
    ws.addEventListener("close", function (event) {
      if (socket !== ws) { return; }
      socket = null;
      stopTimers();
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_FORBIDDEN) {
        stopped = true;
        setSocketState("closed");
        ui.banner.textContent = t(event.code === CLOSE_FORBIDDEN ? "forbidden" : "signedOut");
        ui.banner.hidden = false;
        if (event.code === CLOSE_FORBIDDEN) { forget(); }
        return;
      }
      setSocketState("closed");
      scheduleReconnect();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      reconnectNow();
      if (socket && socket.readyState === WebSocket.OPEN) { heartbeat(); }
    }
  });
  window.addEventListener("online", reconnectNow);

  // --- messages --------------------------------------------------------------------------

  function onMessage(event) {
    var m;
    try { m = JSON.parse(event.data); } catch (e) { return; }
    if (!m || typeof m.type !== "string") { return; }
    switch (m.type) {
      case "snapshot": applySnapshot(m); break;
      case "position":
      case "materials":
      case "status":
        if (!known || typeof m.seq !== "number" || m.seq <= state.seq) { return; }
        if (m.seq > state.seq + 1) { send({ type: "resync", seq: state.seq }); return; }
        applyDelta(m);
        break;
      case "pong":
        if (pongTimer) { window.clearTimeout(pongTimer); pongTimer = null; }
        if (known && typeof m.seq === "number" && m.seq > state.seq) { send({ type: "resync", seq: state.seq }); }
        break;
      case "presence": showPresence(m.people || []); break;
      case "notes": gotNotes(m); break;
      case "note_saved":
        if (!noteDirty || noteDirty.version !== m.version || noteDirty.page !== m.page) {
          ui.noteStatus.textContent = t("saved");
        }
        break;
      case "error": gotError(m); break;
      default: break;
    }
  }

  function applySnapshot(m) {
    if (known && m.seq < state.seq) {
      // The server's state is older than ours: its store was reset. Start again from it.
      forget();
      mode = "follow";
    }
    known = true;
    state.seq = m.seq;
    state.status = m.status;
    state.forced = !!m.forced;
    state.material = m.material;
    state.version = m.version;
    state.page = m.page;
    state.materials = m.materials || [];
    state.imageBase = m.image_base || state.imageBase;
    pendingGoto = null;
    dropRevoked();
    prefetchMaterial(state.material, state.version, state.page);
    render();
  }

  function applyDelta(m) {
    state.seq = m.seq;
    if (m.type === "status") {
      state.status = m.status;
    } else {
      state.material = m.material;
      state.version = m.version;
      state.page = m.page;
      if (m.forced && !state.forced) { mode = "follow"; }  // a vote: everyone back
      state.forced = !!m.forced;
      if (m.type === "materials") {
        state.materials = m.materials || [];
        dropRevoked();
        prefetchMaterial(state.material, state.version, state.page);
      }
      if (pendingGoto && (pendingGoto.material !== m.material || pendingGoto.page === m.page ||
                          Date.now() - pendingGoto.at > 2000)) {
        pendingGoto = null;
      }
    }
    render();
  }

  function gotError(m) {
    if (m.request === "goto" || m.request === "push") { pendingGoto = null; render(); }
    if (m.code === "rate_limited" || m.request || m.code === "server_error") { toast(m.message); }
  }

  // --- images ----------------------------------------------------------------------------

  function loadImage(url) {
    var img = images[url];
    if (img) { return img; }
    img = new Image();
    img.decoding = "async";
    img.draggable = false;
    img.className = "viewer-image";
    img.addEventListener("error", function () {
      if (images[url] === img) { delete images[url]; }
      if (ui.image === img) { ui.empty.textContent = t("imageFailed"); ui.empty.hidden = false; }
    });
    img.src = url;
    images[url] = img;
    return img;
  }

  function pump() {
    while (loading < PREFETCH_PARALLEL && queue.length) {
      var url = queue.shift();
      if (images[url]) { continue; }
      loading += 1;
      var img = loadImage(url);
      var done = function () { loading -= 1; pump(); };
      if (img.complete) { done(); } else {
        img.addEventListener("load", done);
        img.addEventListener("error", done);
      }
    }
  }

  function prefetch(urls, first) {
    var fresh = urls.filter(function (u) { return !images[u]; });
    queue = first ? fresh.concat(queue.filter(function (u) { return fresh.indexOf(u) === -1; }))
                  : queue.concat(fresh.filter(function (u) { return queue.indexOf(u) === -1; }));
    pump();
  }

  function prefetchMaterial(materialId, version, page) {
    var m = materialById(materialId);
    if (!showable(m) || !version) { return; }
    var pages = Math.min(m.pages, PREFETCH_MAX);
    var urls = [];
    // The page shown and the next ones first, then the rest of the material.
    for (var n = page; n <= pages; n++) { urls.push(imageUrl(version, n)); }
    for (n = 1; n < page; n++) { urls.push(imageUrl(version, n)); }
    prefetch(urls, true);
  }

  function versionOf(url) {
    return parseInt(url.slice(state.imageBase.length).split("/")[0], 10);
  }

  function dropRevoked() {
    // Pages of revoked materials (and of replaced versions) leave the tablet's memory.
    var live = {};
    state.materials.forEach(function (m) { if (!m.revoked && m.version) { live[m.version] = true; } });
    if (state.version) { live[state.version] = true; }
    Object.keys(images).forEach(function (url) {
      if (!live[versionOf(url)]) { delete images[url]; }
    });
    queue = queue.filter(function (url) { return live[versionOf(url)]; });
  }

  function forget() {
    images = {};
    queue = [];
    notes = {};
    state.materials = [];
    state.material = state.version = null;
    view = { material: null, version: null, page: 1 };
    showImage(null);
    ui.empty.textContent = t("forbidden");
    root.removeAttribute("data-material");
    root.removeAttribute("data-page");
  }

  var placeholder = ui.image;  // the empty <img> of the page, shown when there is no page

  function place(img) {
    if (ui.image === img) { return; }
    ui.image.removeAttribute("id");
    ui.image.parentNode.replaceChild(img, ui.image);
    img.id = "viewer-image";
    ui.image = img;
  }

  function showImage(url, alt) {
    if (!url) {
      place(placeholder);
      placeholder.hidden = true;
      ui.empty.hidden = false;
      return;
    }
    var img = loadImage(url);
    img.alt = alt || "";
    img.hidden = false;
    place(img);
    ui.empty.hidden = true;
  }

  // --- zoom (pinch, double tap, the 拡大 button) -------------------------------------------

  function aspectOf() {
    // Width / height of the page shown: from whichever of its images has loaded.
    var candidates = [ui.image, images[imageUrl(view.version, view.page)]];
    for (var i = 0; i < candidates.length; i++) {
      var img = candidates[i];
      if (img && img.naturalWidth && img.naturalHeight) { return img.naturalWidth / img.naturalHeight; }
    }
    return 1 / Math.SQRT2;  // A4 portrait
  }

  function fitWidth(aspect) {
    return Math.min(ui.stage.clientWidth, ui.stage.clientHeight * aspect);
  }

  function setZoom(level, cx, cy) {
    level = Math.max(1, Math.min(4, level));
    if (level < 1.1) { level = 1; }
    var before = zoom;
    if (cx === undefined) { cx = ui.stage.clientWidth / 2; cy = ui.stage.clientHeight / 2; }
    var aspect = view.version ? aspectOf() : 1;
    var base = fitWidth(aspect);
    zoom = level;
    ui.zoom.setAttribute("aria-pressed", zoom > 1 ? "true" : "false");
    if (!view.version) { zoom = 1; return; }
    if (zoom === 1) {
      ui.stage.classList.remove("is-zoomed");
      showImage(imageUrl(view.version, view.page), altText());
      ui.image.style.width = "";
      ui.image.style.height = "";
      ui.image.style.transform = "";
      return;
    }
    var sx = ui.stage.scrollLeft;
    var sy = ui.stage.scrollTop;
    var wasZoomed = before > 1;
    showImage(imageUrl(view.version, view.page, true), altText());
    ui.image.style.transform = "";
    ui.stage.classList.add("is-zoomed");
    // Both sizes set: the 2× image may not have loaded yet, and the scroll range must exist.
    ui.image.style.width = Math.round(base * zoom) + "px";
    ui.image.style.height = Math.round(base * zoom / aspect) + "px";
    // Keep the point under the fingers where it was.
    var ratio = zoom / (wasZoomed ? before : 1);
    var offsetX = wasZoomed ? sx : -Math.max(0, (ui.stage.clientWidth - base) / 2);
    ui.stage.scrollLeft = Math.max(0, (offsetX + cx) * ratio - cx);
    var offsetY = wasZoomed ? sy : -Math.max(0, (ui.stage.clientHeight - base / aspect) / 2);
    ui.stage.scrollTop = Math.max(0, (offsetY + cy) * ratio - cy);
  }

  function resetZoom() {
    if (zoom !== 1) { zoom = 1; ui.stage.classList.remove("is-zoomed"); ui.zoom.setAttribute("aria-pressed", "false"); }
    if (ui.image) { ui.image.style.width = ""; ui.image.style.height = ""; ui.image.style.transform = ""; }
  }

  var touch = null;

  function distance(a, b) {
    var dx = a.clientX - b.clientX;
    var dy = a.clientY - b.clientY;
    return Math.sqrt(dx * dx + dy * dy);
  }

  function stagePoint(clientX, clientY) {
    var rect = ui.stage.getBoundingClientRect();
    return { x: clientX - rect.left, y: clientY - rect.top };
  }

  var lastTap = 0;
  var lastTouchEnd = 0;

  ui.stage.addEventListener("touchstart", function (e) {
    if (e.touches.length === 2) {
      var mid = stagePoint((e.touches[0].clientX + e.touches[1].clientX) / 2,
                           (e.touches[0].clientY + e.touches[1].clientY) / 2);
      touch = { pinch: true, d0: distance(e.touches[0], e.touches[1]), scale: 1, mid: mid, zoom0: zoom };
      e.preventDefault();
    } else if (e.touches.length === 1 && !(touch && touch.pinch)) {
      touch = { pinch: false, x: e.touches[0].clientX, y: e.touches[0].clientY, at: Date.now() };
    }
  }, { passive: false });

  ui.stage.addEventListener("touchmove", function (e) {
    if (touch && touch.pinch && e.touches.length === 2 && ui.image) {
      touch.scale = distance(e.touches[0], e.touches[1]) / touch.d0;
      var s = Math.max(1 / touch.zoom0, Math.min(4 / touch.zoom0, touch.scale));
      if (zoom === 1) {
        var rect = ui.image.getBoundingClientRect();
        var srect = ui.stage.getBoundingClientRect();
        var ox = touch.mid.x - (rect.left - srect.left);
        var oy = touch.mid.y - (rect.top - srect.top);
        ui.image.style.transformOrigin = ox + "px " + oy + "px";
      }
      ui.image.style.transform = "scale(" + s + ")";
      e.preventDefault();
    }
  }, { passive: false });

  ui.stage.addEventListener("touchend", function (e) {
    if (!touch) { return; }
    lastTouchEnd = Date.now();
    if (touch.pinch) {
      if (e.touches.length === 0) {
        var level = touch.zoom0 * touch.scale;
        var mid = touch.mid;
        touch = null;
        if (ui.image) { ui.image.style.transform = ""; ui.image.style.transformOrigin = ""; }
        setZoom(level, mid.x, mid.y);
      }
      return;
    }
    var end = e.changedTouches[0];
    var dx = end.clientX - touch.x;
    var dy = end.clientY - touch.y;
    var quick = Date.now() - touch.at < 600;
    touch = null;
    if (zoom > 1) {
      // Panning a zoomed page; a double tap returns to the whole page.
      if (Math.abs(dx) < 10 && Math.abs(dy) < 10) {
        if (Date.now() - lastTap < 350) { lastTap = 0; setZoom(1); } else { lastTap = Date.now(); }
      }
      return;
    }
    if (Math.abs(dx) > 60 && Math.abs(dx) > Math.abs(dy) * 1.5 && quick) {
      turn(dx < 0 ? 1 : -1);
      return;
    }
    if (Math.abs(dx) < 10 && Math.abs(dy) < 10) {
      var p = stagePoint(end.clientX, end.clientY);
      tapAt(p.x, p.y);
    }
  });

  function tapAt(x, y) {
    var w = ui.stage.clientWidth;
    if (x < w * 0.3) { lastTap = 0; turn(-1); return; }
    if (x > w * 0.7) { lastTap = 0; turn(1); return; }
    if (Date.now() - lastTap < 350) { lastTap = 0; setZoom(zoom > 1 ? 1 : 2, x, y); } else { lastTap = Date.now(); }
  }

  ui.stage.addEventListener("click", function (e) {
    if (Date.now() - lastTouchEnd < 800 || zoom > 1) { return; }  // handled as a touch
    var p = stagePoint(e.clientX, e.clientY);
    var w = ui.stage.clientWidth;
    if (p.x < w * 0.3) { turn(-1); } else if (p.x > w * 0.7) { turn(1); }
  });
  ui.stage.addEventListener("dblclick", function (e) {
    var p = stagePoint(e.clientX, e.clientY);
    var w = ui.stage.clientWidth;
    if (p.x >= w * 0.3 && p.x <= w * 0.7) { setZoom(zoom > 1 ? 1 : 2, p.x, p.y); }
  });
  // Safari's own pinch gesture would zoom the whole page.
  document.addEventListener("gesturestart", function (e) { e.preventDefault(); });

  ui.zoom.addEventListener("click", function () { setZoom(zoom > 1 ? 1 : 2); });

  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || e.altKey || e.ctrlKey || e.metaKey) { return; }
    if (e.key === "ArrowRight" || e.key === "PageDown") { turn(1); e.preventDefault(); }
    if (e.key === "ArrowLeft" || e.key === "PageUp") { turn(-1); e.preventDefault(); }
  });

  // --- page turns and modes --------------------------------------------------------------

  function setMode(value) {
    if (presenter) { return; }
    mode = value;
    render();
  }

  function turn(delta) {
    var m = materialById(view.material);
    if (!showable(m)) { return; }
    var page = view.page + delta;
    if (page < 1 || page > m.pages) { return; }
    if (presenter) { presenterGoto(m.id, page); return; }
    if (state.forced) { toast(t("forcedBlocked")); return; }
    flushNote();
    mode = "free";
    view.page = page;
    render();
  }

  function presenterGoto(material, page) {
    flushNote();
    pendingGoto = { material: material, page: page, at: Date.now() };
    view.page = page;
    render();
    // At most one goto per GOTO_INTERVAL_MS (the server rate-limits); the last one wins.
    if (gotoTimer) { return; }
    var wait = Math.max(0, lastGotoSent + GOTO_INTERVAL_MS - Date.now());
    gotoTimer = window.setTimeout(function () {
      gotoTimer = null;
      if (!pendingGoto) { return; }
      lastGotoSent = Date.now();
      send({ type: "goto", material: pendingGoto.material, page: pendingGoto.page });
    }, wait);
  }

  ui.prev.addEventListener("click", function () { turn(-1); });
  ui.next.addEventListener("click", function () { turn(1); });
  if (ui.follow) {
    ui.follow.addEventListener("click", function () { setMode(mode === "free" ? "follow" : "free"); });
  }
  if (ui.back) {
    ui.back.addEventListener("click", function () { flushNote(); setMode("follow"); });
  }

  ui.select.addEventListener("change", function () {
    var id = parseInt(ui.select.value, 10);
    var m = materialById(id);
    if (presenter) { target = isNaN(id) ? null : id; render(); return; }
    if (!showable(m) || state.forced) { render(); return; }
    flushNote();
    mode = "free";
    view = { material: m.id, version: m.version, page: 1 };
    prefetchMaterial(m.id, m.version, 1);
    render();
  });

  // --- presenter controls ----------------------------------------------------------------

  function targetMaterial() {
    var id = target !== null ? target : state.material;
    return materialById(id);
  }

  if (ui.push) {
    ui.push.addEventListener("click", function () {
      var m = targetMaterial();
      if (!showable(m)) { toast(t("chooseMaterial")); return; }
      if (send({ type: "push", material: m.id })) { target = null; toast(t("pushDone", { title: m.title })); }
    });
  }
  if (ui.force) {
    ui.force.addEventListener("click", function () { send({ type: "force", on: !state.forced }); });
  }
  if (ui.revoke) {
    ui.revoke.addEventListener("click", function () {
      var m = targetMaterial();
      if (!m || m.revoked) { toast(t("chooseMaterial")); return; }
      var go = function () { send({ type: "revoke", material: m.id }); target = null; };
      var text = t("revokeConfirm", { title: m.title });
      if (ui.confirm && ui.confirm.showModal) {
        ui.confirm.querySelector(".confirm-text").textContent = text;
        ui.confirm.onclose = function () { if (ui.confirm.returnValue === "ok") { go(); } };
        ui.confirm.returnValue = "";
        ui.confirm.showModal();
      } else if (window.confirm(text)) {
        go();
      }
    });
  }
  if (ui.confirm) {
    ui.confirm.querySelector("[data-dialog-cancel]").addEventListener("click", function () { ui.confirm.close("cancel"); });
    ui.confirm.querySelector("[data-dialog-ok]").addEventListener("click", function () { ui.confirm.close("ok"); });
  }

  var presenceTimer = null;
  if (ui.presenceToggle) {
    ui.presenceToggle.addEventListener("click", function () {
      var open = ui.presence.hidden;
      ui.presence.hidden = !open;
      ui.presenceToggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        send({ type: "presence" });
        presenceTimer = window.setInterval(function () { send({ type: "presence" }); }, HEARTBEAT_MS);
      } else if (presenceTimer) {
        window.clearInterval(presenceTimer);
        presenceTimer = null;
      }
    });
  }

  function showPresence(people) {
    if (!ui.presenceList) { return; }
    var online = 0;
    ui.presenceList.textContent = "";
    people.forEach(function (p) {
      if (p.online) { online += 1; }
      var li = document.createElement("li");
      var who = document.createElement("span");
      who.textContent = p.name + (p.department ? "（" + p.department + "）" : "");
      var status = document.createElement("span");
      status.className = p.online ? "is-online" : "is-offline";
      status.textContent = t(p.online ? "online" : "offline");
      li.appendChild(who);
      li.appendChild(status);
      li.setAttribute("data-staff", p.staff);
      ui.presenceList.appendChild(li);
    });
    ui.presenceCount.textContent = t("presenceCount", { online: online, total: people.length });
  }

  // --- notes -----------------------------------------------------------------------------

  function noteFor(version, page) {
    return notes[version] && notes[version][page];
  }

  function gotNotes(m) {
    var byPage = {};
    (m.notes || []).forEach(function (n) { byPage[n.page] = { text: n.text, read_only: n.read_only }; });
    notes[m.version] = byPage;
    renderNote();
  }

  function renderNote() {
    if (ui.notes.hidden) { return; }
    if (!view.version) { ui.noteText.value = ""; ui.noteText.disabled = true; return; }
    if (!notes[view.version]) {
      ui.noteText.disabled = true;
      send({ type: "notes", version: view.version });
      return;
    }
    if (noteDirty && noteDirty.version === view.version && noteDirty.page === view.page) { return; }
    var n = noteFor(view.version, view.page);
    ui.noteText.value = n ? n.text : "";
    ui.noteText.disabled = false;
    ui.noteText.readOnly = !!(n && n.read_only);
    ui.noteStatus.textContent = n && n.read_only ? t("readOnly") : "";
  }

  function flushNote() {
    if (noteTimer) { window.clearTimeout(noteTimer); noteTimer = null; }
    if (!noteDirty) { return; }
    var d = noteDirty;
    noteDirty = null;
    if (!notes[d.version]) { notes[d.version] = {}; }
    notes[d.version][d.page] = { text: d.text, read_only: false };
    send({ type: "note", version: d.version, page: d.page, text: d.text });
  }

  ui.noteText.addEventListener("input", function () {
    if (!view.version) { return; }
    noteDirty = { version: view.version, page: view.page, text: ui.noteText.value };
    ui.noteStatus.textContent = t("saving");
    if (noteTimer) { window.clearTimeout(noteTimer); }
    noteTimer = window.setTimeout(flushNote, NOTE_SAVE_MS);
  });
  ui.noteText.addEventListener("blur", flushNote);
  ui.notesToggle.addEventListener("click", function () {
    var open = ui.notes.hidden;
    if (!open) { flushNote(); }
    ui.notes.hidden = !open;
    ui.notesToggle.setAttribute("aria-expanded", open ? "true" : "false");
    renderNote();
  });

  // --- rendering -------------------------------------------------------------------------

  function altText() {
    var m = materialById(view.material);
    return m ? t("imageAlt", { title: m.title, page: view.page }) : "";
  }

  function renderSelect() {
    var key = JSON.stringify(state.materials);
    if (key !== materialsKey) {
      materialsKey = key;
      ui.select.textContent = "";
      var none = document.createElement("option");
      none.value = "";
      none.textContent = t("chooseMaterial");
      ui.select.appendChild(none);
      state.materials.forEach(function (m) {
        if (m.revoked) { return; }
        var o = document.createElement("option");
        o.value = String(m.id);
        o.textContent = m.title + (m.version ? "" : " " + t("notRendered"));
        o.disabled = !m.version;
        ui.select.appendChild(o);
      });
    }
    var chosen = presenter ? (target !== null ? target : state.material) : view.material;
    var m = materialById(chosen);
    if (!showable(m) && presenter && target !== null && (!m || m.revoked)) { target = null; }
    ui.select.value = m && !m.revoked ? String(m.id) : "";
  }

  function render() {
    var forced = state.forced && !presenter;
    if (presenter) {
      if (!pendingGoto) { view = { material: state.material, version: state.version, page: state.page }; }
    } else if (mode === "follow" || forced) {
      view = { material: state.material, version: state.version, page: state.page };
    } else {
      // Free browsing: a revoked material leaves the screen; a new version replaces the old.
      var mine = materialById(view.material);
      if (!showable(mine)) {
        view = { material: state.material, version: state.version, page: state.page };
        mode = "follow";
      } else if (mine.version !== view.version) {
        view.version = mine.version;
        view.page = Math.min(view.page, mine.pages);
      }
    }
    var effective = presenter ? "presenting" : (forced ? "forced" : mode);
    root.setAttribute("data-mode", effective === "presenting" ? "follow" : effective);
    ui.mode.textContent = t(effective === "presenting" ? "presenting" : effective);

    var m = materialById(view.material);
    var shown = showable(m) && view.version;
    if (shown) {
      if (zoom > 1 && (root.getAttribute("data-page") !== String(view.page) ||
                       root.getAttribute("data-version") !== String(view.version))) {
        resetZoom();
      }
      showImage(imageUrl(view.version, view.page, zoom > 1), altText());
      root.setAttribute("data-material", String(view.material));
      root.setAttribute("data-version", String(view.version));
      root.setAttribute("data-page", String(view.page));
      ui.page.textContent = t("pageOf", { page: view.page, pages: m.pages });
      // Neighbours first, so a swipe never waits.
      prefetch([imageUrl(view.version, view.page + 1), imageUrl(view.version, view.page - 1)]
        .filter(function (u, i) { return i === 0 ? view.page < m.pages : view.page > 1; }), true);
    } else {
      resetZoom();
      showImage(null);
      root.removeAttribute("data-material");
      root.removeAttribute("data-version");
      root.removeAttribute("data-page");
      ui.page.textContent = t("noPage");
      ui.empty.textContent = state.status === "draft" ? t("draft") : t("nothingShown");
    }
    if (state.status === "closed") { ui.empty.textContent = t("closed"); }
    if (!known) { ui.empty.textContent = root.getAttribute("data-connecting") || ui.empty.textContent; }

    var canBrowse = shown && (presenter || !forced);
    ui.prev.disabled = !canBrowse || view.page <= 1;
    ui.next.disabled = !canBrowse || !m || view.page >= m.pages;
    ui.zoom.disabled = !shown;
    ui.select.disabled = !presenter && forced;
    if (ui.follow) {
      ui.follow.hidden = forced;
      ui.follow.setAttribute("aria-pressed", mode === "free" ? "true" : "false");
    }
    if (ui.back) { ui.back.hidden = forced || mode !== "free"; }
    if (ui.force) {
      ui.force.setAttribute("aria-pressed", state.forced ? "true" : "false");
    }
    var open = state.status === "published" || state.status === "in_session";
    [ui.push, ui.force, ui.revoke].forEach(function (b) { if (b) { b.disabled = !open; } });
    root.setAttribute("data-seq", String(state.seq));
    root.setAttribute("data-materials", state.materials
      .filter(function (x) { return !x.revoked; }).map(function (x) { return x.id; }).join(","));
    renderSelect();
    renderNote();
  }

  var toastTimer = null;
  function toast(text) {
    if (!text) { return; }
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    if (toastTimer) { window.clearTimeout(toastTimer); }
    toastTimer = window.setTimeout(function () { ui.toast.hidden = true; }, 4000);
  }

  window.addEventListener("resize", function () { if (zoom > 1) { setZoom(zoom); } });
  window.addEventListener("pagehide", flushNote);

  root.setAttribute("data-connecting", ui.empty.textContent);
  render();
  connect();
}());
