// Light, dark or the system's choice, remembered in localStorage and applied as a class on
// <html> (public/theme-init.js applies it before the first paint).

export type ThemeChoice = 'light' | 'dark' | 'system';
const KEY = 'foreman.theme';

function stored(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

const media = globalThis.matchMedia?.('(prefers-color-scheme: dark)');

class Theme {
  choice = $state<ThemeChoice>(stored());
  systemDark = $state(media?.matches ?? false);
  dark = $derived(this.choice === 'dark' || (this.choice === 'system' && this.systemDark));

  constructor() {
    media?.addEventListener?.('change', (e) => (this.systemDark = e.matches));
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      if (choice === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      // private mode: the choice lasts for this page only
    }
  }

  /** Light → dark → system → light. */
  cycle(): void {
    this.set(this.choice === 'light' ? 'dark' : this.choice === 'dark' ? 'system' : 'light');
  }

  apply(): void {
    const root = document.documentElement;
    root.classList.toggle('dark', this.dark);
    root.style.colorScheme = this.dark ? 'dark' : 'light';
  }
}

export const theme = new Theme();
