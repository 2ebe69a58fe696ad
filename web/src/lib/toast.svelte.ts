// Short-lived messages after actions ("ticket queued again", "could not pause: …").

export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;

  push(kind: Toast['kind'], text: string, ms = kind === 'error' ? 8000 : 4000): void {
    const id = this.#next++;
    this.items = [...this.items.slice(-4), { id, kind, text }];
    setTimeout(() => this.dismiss(id), ms);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }
}

export const toasts = new Toasts();
