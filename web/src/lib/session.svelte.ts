// The signed-in session: the bearer token in sessionStorage (gone when the tab closes) and
// the reason the user was last signed out.

const KEY = 'foreman.token';

function storage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

class Session {
  token = $state<string | null>(storage()?.getItem(KEY) ?? null);
  /** Why the user was signed out, shown on the sign-in page. */
  notice = $state<string | null>(null);

  get signedIn(): boolean {
    return this.token !== null;
  }

  signIn(token: string): void {
    const t = token.trim();
    storage()?.setItem(KEY, t);
    this.notice = null;
    this.token = t;
  }

  signOut(notice: string | null = null): void {
    storage()?.removeItem(KEY);
    this.notice = notice;
    this.token = null;
  }
}

export const session = new Session();

/** Accepts what people paste: the bare token, `Bearer <token>`, quotes and whitespace. */
export function cleanToken(input: string): string {
  let t = input.trim();
  if (/^bearer\s+/i.test(t)) t = t.replace(/^bearer\s+/i, '');
  t = t.replace(/^["'`]+|["'`]+$/g, '').trim();
  return t;
}
