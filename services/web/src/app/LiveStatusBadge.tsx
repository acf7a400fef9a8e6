import { useLiveStatus } from './session';

/** Top right: Live / Reconnecting (attempt n) / Offline. */
export function LiveStatusBadge() {
  const s = useLiveStatus();
  const text =
    s.state === 'live'
      ? 'Live'
      : s.state === 'reconnecting'
        ? `Reconnecting (attempt ${s.attempt})`
        : s.state === 'offline'
          ? 'Offline'
          : 'Connecting';
  return (
    <span role="status" aria-live="polite" className={`live live-${s.state}`} title={s.detail ?? 'Live feed: /api/v1/ws'}>
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
