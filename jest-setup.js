// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';

// jsdom has no IntersectionObserver / ResizeObserver; @grafana/ui's Select menu (ScrollContainer) uses them.
class NoopObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
for (const name of ['IntersectionObserver', 'ResizeObserver']) {
  if (!(name in global)) {
    Object.defineProperty(global, name, { writable: true, configurable: true, value: NoopObserver });
  }
}
