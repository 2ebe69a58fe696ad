// The typed API client: openapi-fetch over the generated schema, with the session's bearer
// token on every request and sign-out on 401.
import createClient, { type Middleware } from 'openapi-fetch';
import { session } from '../session.svelte';
import type { paths } from './schema';

/** Thrown by `unwrap` for any non-2xx answer, with the server's message. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** The message of an error body (`{"error": "...", "code": 404}`) or a fallback. */
export function errorMessage(body: unknown, status: number): string {
  if (body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'string') {
    return (body as { error: string }).error;
  }
  if (typeof body === 'string' && body.trim()) return body.trim().slice(0, 300);
  return status ? `request failed with status ${status}` : 'the server could not be reached';
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token;
    if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  async onResponse({ request, response }) {
    // A 401 for the token in use ends the session; the sign-in page says why.
    const sent = request.headers.get('authorization');
    if (response.status === 401 && session.token && sent === `Bearer ${session.token}`) {
      let reason = 'the server rejected the token';
      try {
        reason = errorMessage(await response.clone().json(), 401);
      } catch {
        // keep the generic reason
      }
      session.signOut(`Signed out: ${reason}.`);
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '' });
api.use(auth);

/** The data of a successful answer, or an `ApiError` with the server's message. */
export async function unwrap<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await p;
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the server could not be reached');
  }
  if (!r.response.ok) throw new ApiError(r.response.status, errorMessage(r.error, r.response.status));
  return r.data as T;
}

/** A message for any error thrown by a request. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
