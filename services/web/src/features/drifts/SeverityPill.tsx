export function SeverityPill({ s }: { s: string | null | undefined }) {
  if (!s) return <span className="muted">none</span>;
  return <span className={`sev sev-${s}`}>{s}</span>;
}
