// Loader for host pages: <script type="module" src="https://<proxy>/widget/embed.js">.
// Importing it mounts every <div data-tray-marketplace data-proxy-url data-token> on the
// page; `mount(element, options)` (also `window.TrayMarketplace.mount`) mounts one
// container by hand and returns a handle with `unmount()`. See docs/widget.md.
import init, { mount as mountNow } from "./integrations-widget.js";

const ready = init({ module_or_path: new URL("./integrations-widget_bg.wasm", import.meta.url) });

export function mount(element, options = {}) {
  let handle = null;
  let unmounted = false;
  const mounted = ready.then(() => {
    if (!unmounted) handle = mountNow(element, options);
    return handle;
  });
  return {
    ready: mounted,
    unmount() {
      unmounted = true;
      if (handle) {
        handle.unmount();
        handle.free();
        handle = null;
      }
    },
  };
}

window.TrayMarketplace = { mount, ready };
