import { describe, expect, it } from 'vitest';
import { badgeText, notificationFilterString, notificationQuery, notificationTone, parseNotificationFilter } from './notifications';

describe('notification filters', () => {
  it('round-trips through the URL and drops unknown values', () => {
    const f = parseNotificationFilter('?severity=critical&acknowledged=false');
    expect(f).toEqual({ severity: 'critical', acknowledged: 'false' });
    expect(notificationFilterString(f)).toBe('?severity=critical&acknowledged=false');
    expect(parseNotificationFilter('?severity=loud&acknowledged=maybe')).toEqual({ severity: '', acknowledged: '' });
    expect(notificationFilterString({ severity: '', acknowledged: '' })).toBe('');
  });

  it('turns a filter into API query parameters', () => {
    expect(notificationQuery({ severity: 'warning', acknowledged: 'true' }, 'c1', 20)).toEqual({
      severity: 'warning',
      acknowledged: true,
      limit: 20,
      cursor: 'c1',
    });
    expect(notificationQuery({ severity: '', acknowledged: 'false' }, null)).toEqual({
      severity: undefined,
      acknowledged: false,
      limit: 50,
      cursor: undefined,
    });
    expect(notificationQuery({ severity: '', acknowledged: '' }, null).acknowledged).toBeUndefined();
  });
});

describe('labels', () => {
  it('maps severities to tones', () => {
    expect(notificationTone('critical')).toBe('danger');
    expect(notificationTone('warning')).toBe('warning');
    expect(notificationTone('info')).toBe('info');
    expect(notificationTone('other')).toBe('info');
  });

  it('shows the badge count only when there is something, capped at 99+', () => {
    expect(badgeText(0)).toBe('');
    expect(badgeText(-1)).toBe('');
    expect(badgeText(7)).toBe('7');
    expect(badgeText(99)).toBe('99');
    expect(badgeText(100)).toBe('99+');
  });
});
