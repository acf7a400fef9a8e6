// The one place the UI talks to the gateway's REST API.  Types come from the
// gateway's openapi.json (api-types.gen.ts, generated at build time).
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api-types.gen';

export type DriftItem = components['schemas']['DriftItem'];
export type DriftDetail = components['schemas']['DriftDetail'];
export type DriftList = components['schemas']['DriftList'];
export type Stats = components['schemas']['Stats'];
export type Workspace = components['schemas']['Workspace'];
export type Resource = components['schemas']['Resource'];
export type Graph = components['schemas']['Graph'];
export type GraphNode = components['schemas']['GraphNode'];
export type GraphEdge = components['schemas']['GraphEdge'];
export type Severity = DriftItem['severity'];
export type Status = DriftItem['status'];
export type Kind = DriftItem['kind'];
export type StatusChange = components['schemas']['StatusChange'];
export type ListParams = NonNullable<paths['/api/v1/drifts']['get']['parameters']['query']>;

export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
export const STATUSES: readonly Status[] = ['open', 'acknowledged', 'resolved', 'ignored'];
export const KINDS: readonly Kind[] = ['drift', 'unmanaged', 'deleted', 'modified'];
export const SEVERITY_RANK: Record<Severity, number> = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };

export type Role = 'viewer' | 'operator' | 'admin';

/** An answer the API gave that is not a success, or no answer at all. */
export class ApiError extends Error {
  readonly status: number; // 0: the gateway could not be reached
  readonly code: string;
  readonly parameter: string | undefined;
  constructor(status: number, code: string, message: string, parameter?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
  /** What a person should read: 401/403 named as such. */
  get headline(): string {
    if (this.status === 401) return 'Not signed in (401): ' + this.message;
    if (this.status === 403) return 'Forbidden (403): ' + this.message;
    if (this.status === 0) return 'API unreachable: ' + this.message;
    return `Error ${this.status} (${this.code}): ${this.message}`;
  }
}

type ErrorBody = components['schemas']['Error'];

function toError(status: number, body: unknown): ApiError {
  const e = (body as ErrorBody | undefined)?.error;
  if (e && typeof e.message === 'string') return new ApiError(status, e.code, e.message, e.parameter);
  return new ApiError(status, 'http_' + status, `HTTP ${status}`);
}

export interface ApiOptions {
  baseUrl?: string;
  token: () => string | null;
  onRole?: (role: Role) => void;
  fetch?: typeof fetch;
}

/** Builds the client.  Every request carries the token as a bearer; every
 * answer's X-Role header (the token's role) goes to onRole. */
export function makeApi(opts: ApiOptions) {
  const client = createClient<paths>({ baseUrl: opts.baseUrl ?? '', fetch: opts.fetch });
  const mw: Middleware = {
    onRequest({ request }) {
      const t = opts.token();
      if (t) request.headers.set('Authorization', 'Bearer ' + t);
      return request;
    },
    onResponse({ response }) {
      const r = response.headers.get('X-Role');
      if (r === 'viewer' || r === 'operator' || r === 'admin') opts.onRole?.(r);
      return response;
    },
  };
  client.use(mw);

  async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let r;
    try {
      r = await p;
    } catch (e) {
      throw new ApiError(0, 'unreachable', e instanceof Error ? e.message : String(e));
    }
    if (r.error !== undefined || !r.response.ok) throw toError(r.response.status, r.error);
    return r.data as T;
  }

  return {
    listDrifts: (query: ListParams) => call<DriftList>(client.GET('/api/v1/drifts', { params: { query } })),
    getDrift: (id: number) => call<DriftDetail>(client.GET('/api/v1/drifts/{id}', { params: { path: { id } } })),
    patchDrift: (id: number, body: StatusChange) =>
      call<DriftDetail>(client.PATCH('/api/v1/drifts/{id}', { params: { path: { id } }, body }) as never),
    stats: (query: { since?: string; until?: string } = {}) =>
      call<Stats>(client.GET('/api/v1/stats', { params: { query } })),
    workspaces: () => call<{ items: Workspace[] }>(client.GET('/api/v1/workspaces')),
    resource: (address: string, workspace?: string) =>
      call<Resource>(
        client.GET('/api/v1/resources/{address}', {
          params: { path: { address }, query: workspace ? { workspace } : {} },
        }),
      ),
    graph: (query: NonNullable<paths['/api/v1/graph']['get']['parameters']['query']>) =>
      call<Graph>(client.GET('/api/v1/graph', { params: { query } })),
    /** Checks a token: any authenticated read answers with its role. */
    whoami: () => call<unknown>(client.GET('/api/v1/health')),
  };
}

export type Api = ReturnType<typeof makeApi>;

/** Every page of a workspace's graph (the API pages by about `limit` nodes). */
export async function loadWholeGraph(api: Api, workspace: string | undefined, limit = 5000): Promise<{ nodes: GraphNode[]; edges: GraphEdge[]; generation: number }> {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let cursor: string | undefined;
  let generation = 0;
  for (let i = 0; i < 1000; i++) {
    const page = await api.graph({ limit, ...(workspace ? { workspace } : {}), ...(cursor ? { cursor } : {}) });
    for (const n of page.elements.nodes) nodes.push(n); // no spread: pages can be huge
    for (const e of page.elements.edges) edges.push(e);
    generation = page.generation;
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return { nodes, edges, generation };
}
