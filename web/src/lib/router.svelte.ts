// Client-side navigation over the History API.
import { parseRoute, type Route } from './routes';

class Router {
  path = $state(globalThis.location?.pathname ?? '/');
  search = $state(globalThis.location?.search ?? '');
  route: Route = $derived(parseRoute(this.path));

  navigate(href: string, opts: { replace?: boolean } = {}): void {
    const url = new URL(href, globalThis.location.href);
    if (url.origin !== globalThis.location.origin) {
      globalThis.location.assign(href);
      return;
    }
    const target = url.pathname + url.search + url.hash;
    const current = globalThis.location.pathname + globalThis.location.search + globalThis.location.hash;
    if (target !== current) {
      if (opts.replace) history.replaceState(null, '', target);
      else history.pushState(null, '', target);
    }
    const pathChanged = url.pathname !== this.path;
    this.path = url.pathname;
    this.search = url.search;
    if (pathChanged && !opts.replace) globalThis.scrollTo?.(0, 0);
  }

  /** Follows back/forward and same-origin link clicks. Returns a function that stops. */
  start(): () => void {
    const onPop = () => {
      this.path = location.pathname;
      this.search = location.search;
    };
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = (e.target as Element | null)?.closest?.('a');
      if (!a || a.target || a.hasAttribute('download') || a.getAttribute('rel') === 'external') return;
      const href = a.getAttribute('href');
      if (!href || href.startsWith('#') || /^[a-z]+:/i.test(href)) return;
      e.preventDefault();
      this.navigate(href);
    };
    addEventListener('popstate', onPop);
    document.addEventListener('click', onClick);
    return () => {
      removeEventListener('popstate', onPop);
      document.removeEventListener('click', onClick);
    };
  }
}

export const router = new Router();
