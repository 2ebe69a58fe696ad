// Notification list filters and labels (`GET /api/notifications`). Pure functions.
import type { Tone } from './status';

export const NOTIFICATION_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type NotificationSeverity = (typeof NOTIFICATION_SEVERITIES)[number];

/** The list's filters, kept in the URL (`/notifications?severity=warning&acknowledged=false`). */
export interface NotificationFilter {
  severity: NotificationSeverity | '';
  /** `''`: both. */
  acknowledged: 'true' | 'false' | '';
}

export function parseNotificationFilter(search: string): NotificationFilter {
  const p = new URLSearchParams(search);
  const severity = p.get('severity') ?? '';
  const acknowledged = p.get('acknowledged') ?? '';
  return {
    severity: (NOTIFICATION_SEVERITIES as readonly string[]).includes(severity) ? (severity as NotificationSeverity) : '',
    acknowledged: acknowledged === 'true' || acknowledged === 'false' ? acknowledged : '',
  };
}

export function notificationFilterString(f: NotificationFilter): string {
  const p = new URLSearchParams();
  if (f.severity) p.set('severity', f.severity);
  if (f.acknowledged) p.set('acknowledged', f.acknowledged);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The API query for a filter and page. */
export function notificationQuery(f: NotificationFilter, cursor: string | null, limit = 50) {
  return {
    severity: f.severity || undefined,
    acknowledged: f.acknowledged === '' ? undefined : f.acknowledged === 'true',
    limit,
    cursor: cursor ?? undefined,
  };
}

export function notificationTone(severity: string): Tone {
  return severity === 'critical' ? 'danger' : severity === 'warning' ? 'warning' : 'info';
}

/** The badge's text: nothing for none, `99+` past 99. */
export function badgeText(count: number): string {
  if (!Number.isFinite(count) || count <= 0) return '';
  return count > 99 ? '99+' : String(Math.floor(count));
}
