/* The live inbox. /ws/inbox/ sends {"type":"inbox.changed","seq":n,"count":n} on
 * connect and whenever this person's inbox changes; the socket carries nothing else,
 * so the list itself is always fetched through the permission-checked page
 * (#inbox-live is swapped with htmx).
 *
 * While disconnected a 再接続中 banner shows; reconnection backs off exponentially
 * with jitter (0.5 s doubling up to 10 s) and, once back, says {"type":"hello"} to get
 * a fresh snapshot. A refresh waits while a confirmation dialog is open and keeps the
 * ticked checkboxes.
 */
(function () {
  "use strict";

  var MIN_DELAY = 500;
  var MAX_DELAY = 10000;
  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_FORBIDDEN = 4403;

  if (!document.getElementById("inbox-live") || !window.WebSocket || !window.htmx) { return; }

  var banner = document.getElementById("inbox-connection");
  var root = document.documentElement;
  var socket = null;
  var attempt = 0;
  var timer = null;
  var everOpen = false;
  var reconnected = false;
  var firstMessage = true;
  var stopped = false;
  var refreshing = false;
  var refreshAgain = false;
  var refreshDeferred = false;

  function live() { return document.getElementById("inbox-live"); }

  function setState(state) {
    root.setAttribute("data-inbox-socket", state);
    if (banner) { banner.hidden = state === "open" || (state === "connecting" && !everOpen); }
  }

  function checkedSteps() {
    var ids = [];
    document.querySelectorAll('#inbox-live input[name="steps"]:checked').forEach(function (c) {
      ids.push(c.value);
    });
    return ids;
  }

  function restoreChecked(ids) {
    if (!ids.length) { return; }
    document.querySelectorAll('#inbox-live input[name="steps"]').forEach(function (c) {
      if (ids.indexOf(c.value) !== -1) { c.checked = true; }
    });
  }

  function refresh() {
    if (document.querySelector("dialog[open]")) { refreshDeferred = true; return; }
    if (refreshing) { refreshAgain = true; return; }
    var region = live();
    if (!region) { return; }
    refreshing = true;
    var keep = checkedSteps();
    var done = function () {
      restoreChecked(keep);
      refreshing = false;
      root.setAttribute("data-inbox-refreshed", String(Date.now()));
      if (refreshAgain) { refreshAgain = false; refresh(); }
    };
    window.htmx.ajax("GET", region.getAttribute("data-refresh-url"), {
      target: "#inbox-live",
      swap: "outerHTML"
    }).then(done, done);
  }

  document.addEventListener("confirm-dialog:closed", function () {
    if (refreshDeferred) {
      refreshDeferred = false;
      // Let a confirmed form's navigation start first; a refresh then does no harm.
      window.setTimeout(refresh, 50);
    }
  });

  function onMessage(event) {
    var message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    if (!message || message.type !== "inbox.changed") { return; }
    var region = live();
    var shown = region ? parseInt(region.getAttribute("data-count"), 10) : NaN;
    // The snapshot sent on the very first connect matches what the page was rendered
    // with, unless something changed in between: only then is a refresh needed.
    var skip = firstMessage && !reconnected && message.count === shown;
    firstMessage = false;
    if (!skip) { refresh(); }
  }

  function delayFor(n) {
    var cap = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, n));
    // Jitter in [cap/2, cap], never below the minimum: tablets waking together spread out.
    return Math.max(MIN_DELAY, cap / 2 + Math.random() * (cap / 2));
  }

  function scheduleReconnect() {
    if (stopped || timer) { return; }
    var delay = delayFor(attempt);
    attempt += 1;
    timer = window.setTimeout(function () { timer = null; connect(); }, delay);
  }

  function connect() {
    if (stopped) { return; }
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) {
      return;
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    setState("connecting");
    try {
      socket = new WebSocket(scheme + window.location.host + "/ws/inbox/");
    } catch (e) {
      setState("closed");
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      attempt = 0;
      if (everOpen) {
        reconnected = true;
        socket.send(JSON.stringify({ type: "hello" }));
      }
      everOpen = true;
      setState("open");
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", function (event) {
      socket = null;
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_FORBIDDEN) {
        stopped = true;
        setState("closed");
        if (banner) {
          banner.textContent = banner.getAttribute("data-signed-out") ||
            "ログインし直してください。 (Please sign in again.)";
          banner.hidden = false;
        }
        return;
      }
      setState("closed");
      scheduleReconnect();
    });
  }

  // A tablet that wakes up or gets its network back tries at once.
  function retryNow() {
    if (stopped || (socket && socket.readyState === WebSocket.OPEN)) { return; }
    if (timer) { window.clearTimeout(timer); timer = null; }
    connect();
  }
  window.addEventListener("online", retryNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { retryNow(); }
  });

  connect();
})();
