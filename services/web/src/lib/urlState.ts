// Filters, sort and selection live in the URL query so a link reproduces a
// view.  The filter keys are exactly the REST parameters of GET /api/v1/drifts.
import type { DriftItem, ListParams } from './api';
import { SEVERITY_RANK } from './api';

export const FILTER_KEYS = [
  'severity',
  'status',
  'kind',
  'workspace',
  'resource_type',
  'address',
  'service',
  'principal',
  'region',
  'account',
  'event_name',
  'since',
  'until',
  'q',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string>>;
export type Sort = 'newest' | 'oldest';

export interface ViewState {
  filters: Filters;
  sort: Sort;
  /** The selected drift (split view; /drifts/{id} carries it in the path). */
  selected: number | null;
  /** The selected graph node id ("workspace:address"). */
  node: string | null;
  /** The graph's workspace. */
  ws: string | null;
}

/** Reads a view from a query string; unknown keys and empty values are dropped. */
export function parseView(search: string | URLSearchParams): ViewState {
  const p = typeof search === 'string' ? new URLSearchParams(search) : search;
  const filters: Filters = {};
  for (const k of FILTER_KEYS) {
    const v = p.get(k);
    if (v !== null && v.trim() !== '') filters[k] = v.trim();
  }
  const sel = Number(p.get('sel'));
  return {
    filters,
    sort: p.get('sort') === 'oldest' ? 'oldest' : 'newest',
    selected: Number.isSafeInteger(sel) && sel > 0 ? sel : null,
    node: p.get('node') || null,
    ws: p.get('ws') || null,
  };
}

/** Writes a view back; keys in a fixed order so equal views give equal URLs. */
export function formatView(v: ViewState): string {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const val = v.filters[k];
    if (val !== undefined && val !== '') p.set(k, val);
  }
  if (v.sort !== 'newest') p.set('sort', v.sort);
  if (v.selected !== null) p.set('sel', String(v.selected));
  if (v.node !== null) p.set('node', v.node);
  if (v.ws !== null) p.set('ws', v.ws);
  return p.toString();
}

/** The REST parameters of a view (time range: datetime-local values become RFC 3339). */
export function toListParams(f: Filters, sort: Sort, limit: number, cursor?: string): ListParams {
  const q: Record<string, string | number> = { limit };
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v === undefined) continue;
    q[k] = k === 'since' || k === 'until' ? toRfc3339(v) : v;
  }
  if (sort !== 'newest') q.sort = sort;
  if (cursor) q.cursor = cursor;
  return q as ListParams;
}

function toRfc3339(v: string): string {
  if (/Z$|[+-]\d\d:\d\d$/.test(v)) return v;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + esc + '$');
}

/** Does a live alert belong in a table showing these filters?  The same rules
 * as the API's (exact fields, comma lists, address glob, case-insensitive q
 * over address, principal and event name, event_time range). */
export function matchesFilters(a: DriftItem, f: Filters): boolean {
  const inList = (v: string, list?: string) => list === undefined || list.split(',').includes(v);
  if (!inList(a.severity, f.severity) || !inList(a.status, f.status) || !inList(a.kind, f.kind)) return false;
  const exact: [FilterKey, string][] = [
    ['workspace', a.workspace],
    ['resource_type', a.resource_type],
    ['service', a.service],
    ['region', a.region],
    ['account', a.account_id],
    ['event_name', a.event_name],
  ];
  for (const [k, v] of exact) if (f[k] !== undefined && f[k] !== v) return false;
  if (f.principal !== undefined && f.principal !== a.principal.name && f.principal !== a.principal.arn) return false;
  if (f.address !== undefined && !globToRegExp(f.address).test(a.resource_address)) return false;
  if (f.q !== undefined) {
    const q = f.q.toLowerCase();
    const hay = [a.resource_address, a.principal.name, a.principal.arn, a.event_name].join('\n').toLowerCase();
    if (!hay.includes(q)) return false;
  }
  if (f.since !== undefined || f.until !== undefined) {
    const t = a.event_time ? Date.parse(a.event_time) : NaN;
    if (Number.isNaN(t)) return false;
    if (f.since !== undefined && t < Date.parse(toRfc3339(f.since))) return false;
    if (f.until !== undefined && t >= Date.parse(toRfc3339(f.until))) return false;
  }
  return true;
}

export function severityRank(s: string | null | undefined): number {
  return s && s in SEVERITY_RANK ? SEVERITY_RANK[s as keyof typeof SEVERITY_RANK] : 0;
}
