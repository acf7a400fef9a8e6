// Structural diff of attribute values for the detail panel.  JSON documents
// that Terraform keeps as strings (IAM and bucket policies) are parsed first,
// so a reordered or reformatted policy shows only what really changed.

export type DiffOp = 'added' | 'removed' | 'changed';
export interface DiffEntry {
  path: string; // "Statement[0].Action"; "" for the value itself
  op: DiffOp;
  old?: unknown;
  new?: unknown;
}

export const MASK = '•••••• (sensitive)';
const SENSITIVE_KEY = /(password|passwd|secret|token|private_key|access_key|credential)/i;

/** A string holding a JSON object or array becomes that value; anything else is unchanged. */
export function parseJsonDoc(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (!(t.startsWith('{') && t.endsWith('}')) && !(t.startsWith('[') && t.endsWith(']'))) return v;
  try {
    return JSON.parse(t);
  } catch {
    return v;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

/** Object keys sorted, so key order is not a change. */
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (isObj(v)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) o[k] = canon(v[k]);
    return o;
  }
  return v;
}

/** The changes from a to b, leaves only, in document order.  Arrays of
 * scalars compare as sets (IAM's Action lists); other arrays by index. */
export function structuralDiff(a: unknown, b: unknown, path = ''): DiffEntry[] {
  a = parseJsonDoc(a);
  b = parseJsonDoc(b);
  if (same(a, b)) return [];
  if (a === undefined || a === null) return [{ path, op: 'added', new: b }];
  if (b === undefined || b === null) return [{ path, op: 'removed', old: a }];
  if (isObj(a) && isObj(b)) {
    const out: DiffEntry[] = [];
    const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
    for (const k of keys) out.push(...structuralDiff(a[k], b[k], join(path, k)));
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const scalar = (x: unknown) => x === null || typeof x !== 'object';
    if (a.every(scalar) && b.every(scalar)) {
      const sa = new Set(a.map((x) => JSON.stringify(x)));
      const sb = new Set(b.map((x) => JSON.stringify(x)));
      const out: DiffEntry[] = [];
      for (const x of a) if (!sb.has(JSON.stringify(x))) out.push({ path, op: 'removed', old: x });
      for (const x of b) if (!sa.has(JSON.stringify(x))) out.push({ path, op: 'added', new: x });
      return out;
    }
    const out: DiffEntry[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...structuralDiff(a[i], b[i], join(path, i)));
    return out;
  }
  return [{ path, op: 'changed', old: a, new: b }];
}

/** Masks a value when the change is marked sensitive or its path names a secret. */
export function maskValue(v: unknown, sensitive: boolean, path: string): unknown {
  if (sensitive || SENSITIVE_KEY.test(path)) return v === undefined || v === null ? v : MASK;
  if (isObj(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = maskValue(x, false, k);
    return o;
  }
  if (Array.isArray(v)) return v.map((x) => maskValue(x, false, ''));
  return v;
}

/** How a value reads in one line. */
export function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  if (v === null) return 'null';
  if (typeof v === 'string') return v === '' ? '""' : v;
  return JSON.stringify(v);
}

/** Whether the diff of a change should be shown structurally (a document on either side). */
export function isDocument(a: unknown, b: unknown): boolean {
  const pa = parseJsonDoc(a);
  const pb = parseJsonDoc(b);
  return (typeof pa === 'object' && pa !== null) || (typeof pb === 'object' && pb !== null);
}
