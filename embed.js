// Loader for host pages: <script type="module" src="https://<proxy>/widget/embed.js">.
// Importing it mounts every <div data-tray-marketplace data-proxy-url data-token> (or
// data-token-url) on the page (except those marked data-manual); `mount(element, options)` (also
// `window.TrayMarketplace.mount`, there once `tray-marketplace:loaded` fired on window)
// mounts one container by hand and returns a handle with `unmount()`. See docs/widget.md.
//
// Everything starts at once: the JS glue, the wasm and, for script-tag containers, the
// catalog request, so the catalog is already here when the wasm has compiled.

const wasmUrl = new URL("./integrations-widget_bg.wasm", import.meta.url);
const wasm = fetch(wasmUrl).catch((error) => {
  throw new Error(`${wasmUrl}: ${error.message}`);
});
const ready = import("./integrations-widget.js").then(async (glue) => {
  await glue.default({ module_or_path: wasm });
  return glue;
});
// A failure is reported through each mount's `ready` and its container's error event, not
// also as an unhandled rejection (which a host's error monitoring takes for its own
// crash), even on a page that mounts nothing yet.
wasm.catch(() => {});
ready.catch(() => {});

/// The catalog request the widget would make first, started and parsed now. Any
/// failure rejects, and the widget then asks again itself (renewing the token if needed).
/// Once it has arrived, `value` holds it.
function prefetchCatalog(proxyUrl, token) {
  const base = (proxyUrl || "").replace(/\/+$/, "");
  const promise = fetch(`${base}/api/v1/integrations`, {
    headers: { Accept: "application/json", Authorization: `Bearer ${token}` },
    // As the widget's own requests: a stalled one must not hold the first load for good,
    // and past the cache, where one catalog request at a time may wait on its URL.
    signal: AbortSignal.timeout(45000),
    cache: "no-store",
  }).then((response) => (response.ok ? response.json() : Promise.reject(response.status)));
  const prefetched = { promise };
  promise.then((value) => (prefetched.value = value), () => {});
  return prefetched;
}

/// Waits, after the wasm is ready, for a catalog on its way for at most `ms`: a loading
/// state shown for a moment and replaced at once is only a flicker.
function arrivedWithin(prefetched, ms) {
  if (!prefetched || "value" in prefetched) return Promise.resolve();
  let timer;
  const waited = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([prefetched.promise.catch(() => {}), waited]).finally(() =>
    clearTimeout(timer),
  );
}

export function mount(element, options = {}) {
  return mountWith(element, options, null);
}

/// The handle of each container's latest `mount` call: only it mounts, and a newer call
/// undoes it at once (a host's mount made while a script-tag container waited for its
/// catalog is not replaced by that wait's end).
const latestMount = new WeakMap();
/// The shadow roots the widget attached (kept after an unmount, for the next mount).
const ownShadowRoots = new WeakSet();

/// The widget empties the shadow root it renders into: never one the host made. It
/// attaches its own now, so a closed one of the host's (which `shadowRoot` does not
/// show), or an element that cannot have one (an `<li>`), is refused at once too.
function claimShadowRoot(element) {
  if (element.shadowRoot) {
    if (ownShadowRoots.has(element.shadowRoot)) return;
    throw new Error("tray-marketplace: the container has a shadow root of its own; give the widget an element of its own");
  }
  let shadow;
  try {
    shadow = element.attachShadow({ mode: "open" });
  } catch (error) {
    throw new Error(
      `tray-marketplace: the container <${element.localName}> cannot hold the widget's shadow root (${error.message}); give the widget a <div> of its own`,
    );
  }
  // What the host put in the container (a loading text) shows until the widget does.
  shadow.append(document.createElement("slot"));
  ownShadowRoots.add(shadow);
}

/// A mistake of the host's, reported as the page's own uncaught error (the console,
/// `onerror`) without stopping the widget.
const report = (error) => (globalThis.reportError ? reportError(error) : console.error(error));

/// `mount`, with the catalog request embed.js started for a script-tag container.
function mountWith(element, options, prefetched) {
  if (!(element instanceof Element)) {
    throw new TypeError("tray-marketplace: mount(element, options) needs the container element");
  }
  claimShadowRoot(element);
  // A typo ("Dark", "night") would otherwise pass unnoticed as the default.
  if (options.theme && !["light", "dark", "system"].includes(options.theme)) {
    console.warn(`tray-marketplace: theme "${options.theme}" is none of light, dark, system; using system`);
  }
  let handle = null;
  let unmounted = false;
  const call = {
    unmount() {
      unmounted = true;
      if (handle) {
        handle.unmount();
        handle.free();
        handle = null;
      }
    },
  };
  // Replaced now, not once the new widget is ready: unmounting the new one at once
  // must leave no widget behind. (A widget that fails to go is not this mount's failure.)
  try {
    latestMount.get(element)?.unmount();
  } catch (error) {
    report(error);
  }
  latestMount.set(element, call);
  const mounted = ready.then(async (glue) => {
    await arrivedWithin(prefetched, 100);
    // A catalog here before the wasm is shown at once, with no loading state first.
    const catalog = prefetched && (prefetched.value || prefetched.promise);
    if (!unmounted) {
      handle = glue.mount(element, catalog ? { ...options, catalog } : options);
    }
  });
  // A widget that cannot start (its files blocked by a CSP, say) says so where the host
  // listens for its errors, not only in `ready`.
  mounted.catch((error) => {
    // Not for a mount since undone or replaced: that widget's host has moved on.
    if (unmounted) return;
    const detail = { message: `the widget failed to load: ${(error && error.message) || error}` };
    element.dispatchEvent(
      new CustomEvent("tray-marketplace:error", { detail, bubbles: true, composed: true }),
    );
    try {
      options.onEvent?.({ type: "error", detail });
    } catch (thrown) {
      report(thrown);
    }
  });
  return { ready: mounted, unmount: call.unmount };
}

function mountScriptTagContainers() {
  for (const element of document.querySelectorAll("[data-tray-marketplace]:not([data-manual])")) {
    const data = element.dataset;
    const options = {
      proxyUrl: data.proxyUrl || "",
      token: data.token || "",
      theme: data.theme,
      locale: data.locale,
    };
    // The host's backend hands out a fresh token there (same origin: its session cookie
    // goes along), so a script-tag widget outlives its first token too.
    if (data.tokenUrl) {
      options.getToken = () =>
        fetch(data.tokenUrl, { credentials: "same-origin", cache: "no-store" }).then((response) =>
          response.ok ? response.text() : Promise.reject(new Error(`token URL: HTTP ${response.status}`)),
        );
    }
    // Script-tag widgets live as long as the page. One container refused leaves the
    // others mounted, and sends no request of its own.
    try {
      claimShadowRoot(element);
      const prefetched = options.token ? prefetchCatalog(options.proxyUrl, options.token) : null;
      mountWith(element, options, prefetched);
    } catch (refused) {
      report(refused);
    }
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", mountScriptTagContainers, { once: true });
} else {
  mountScriptTagContainers();
}

// Module scripts run after classic ones: a classic script mounts once this says so.
window.TrayMarketplace = { mount, ready };
window.dispatchEvent(new Event("tray-marketplace:loaded"));
