// The unacknowledged-notification count behind the header badge: loaded at sign-in and again
// whenever a `notification_created` event arrives (or notifications are acknowledged here).
import { api, unwrap } from './api/client';
import type { LiveEvent } from './api/types';

class Notifications {
  unacknowledged = $state(0);
  /** Bumped after every change made here, so open lists reload. */
  version = $state(0);
  #loading: Promise<void> | null = null;

  /** Reloads the count (one request at a time; a call during one waits for it and goes again). */
  async refresh(): Promise<void> {
    const prev = this.#loading;
    const next = (async () => {
      await prev?.catch(() => undefined);
      const page = await unwrap(api.GET('/api/notifications', { params: { query: { limit: 1, acknowledged: false } } }));
      this.unacknowledged = page.unacknowledged;
    })();
    this.#loading = next;
    try {
      await next;
    } finally {
      if (this.#loading === next) this.#loading = null;
    }
  }

  /** Whether a batch of live events should reload the count. */
  concerns(events: LiveEvent[]): boolean {
    return events.some((e) => e.event_type === 'notification_created');
  }

  async acknowledge(id: string): Promise<void> {
    await unwrap(api.POST('/api/notifications/{id}/acknowledge', { params: { path: { id } } }));
    this.version++;
    await this.refresh();
  }

  /** Acknowledges every notification; returns how many. */
  async acknowledgeAll(): Promise<number> {
    const r = await unwrap(api.POST('/api/notifications/acknowledge-all'));
    this.version++;
    await this.refresh();
    return r.acknowledged;
  }

  reset(): void {
    this.unacknowledged = 0;
  }
}

export const notifications = new Notifications();
