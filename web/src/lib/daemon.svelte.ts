// Server and daemon status (`GET /api/status`), refreshed periodically and on daemon events.
import { api, describeError, unwrap } from './api/client';
import type { Status } from './api/types';

class Daemon {
  status = $state<Status | null>(null);
  error = $state<string | null>(null);
  busy = $state(false);

  async refresh(): Promise<void> {
    try {
      this.status = await unwrap(api.GET('/api/status'));
      this.error = null;
    } catch (e) {
      this.error = describeError(e);
    }
  }

  get paused(): boolean {
    return this.status?.daemon_state === 'paused';
  }

  /** Pauses or resumes; returns the server's message. */
  async toggle(): Promise<string> {
    this.busy = true;
    try {
      const r = this.paused
        ? await unwrap(api.POST('/api/daemon/resume'))
        : await unwrap(api.POST('/api/daemon/pause'));
      await this.refresh();
      return r.message;
    } finally {
      this.busy = false;
    }
  }
}

export const daemon = new Daemon();
