// The API client against a local HTTP server that answers the way the
// gateway does (its error bodies, X-Role header, 401 with WWW-Authenticate).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, makeApi, type Role } from '../../src/lib/api';

const TOKENS: Record<string, Role> = { 'op-secret': 'operator', 'view-secret': 'viewer' };
let server: Server;
let base = '';
const seen: { method: string; url: string; auth?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      const send = (code: number, obj: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(obj));
      };
      const tok = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const role = TOKENS[tok];
      if (!role) return send(401, { error: { code: 'unauthorized', message: 'unknown API token' } }, { 'WWW-Authenticate': 'Bearer realm="tfdrift"' });
      const h = { 'X-Role': role };
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/api/v1/drifts' && req.method === 'GET') {
        if (u.searchParams.get('limit') === '0') return send(400, { error: { code: 'invalid_parameter', message: 'limit: must be between 1 and 500', parameter: 'limit' } }, h);
        return send(200, { items: [], next_cursor: null }, h);
      }
      if (u.pathname === '/api/v1/drifts/5' && req.method === 'PATCH') {
        if (role !== 'operator') return send(403, { error: { code: 'forbidden', message: 'this needs the operator role; token v is viewer' } }, h);
        return send(200, { id: 5, status: JSON.parse(body).status }, h);
      }
      send(404, { error: { code: 'not_found', message: `no such resource: ${u.pathname}` } }, h);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('API client', () => {
  it('sends the token as a bearer, the filters as query parameters, and reports the role', async () => {
    let role: Role | null = null;
    const api = makeApi({ baseUrl: base, token: () => 'op-secret', onRole: (r) => (role = r) });
    await expect(api.listDrifts({ severity: 'high,critical', workspace: 'prod/app', limit: 50 })).resolves.toEqual({ items: [], next_cursor: null });
    const last = seen[seen.length - 1]!;
    expect(last.auth).toBe('Bearer op-secret');
    expect(new URL(last.url, 'http://x').searchParams.get('workspace')).toBe('prod/app');
    expect(new URL(last.url, 'http://x').searchParams.get('severity')).toBe('high,critical');
    expect(role).toBe('operator');
  });

  it('names 401 and 403 as such, and keeps the parameter of a 400', async () => {
    const none = makeApi({ baseUrl: base, token: () => 'wrong' });
    const e401 = await none.listDrifts({}).catch((e) => e);
    expect(e401).toBeInstanceOf(ApiError);
    expect(e401.status).toBe(401);
    expect(e401.headline).toBe('Not signed in (401): unknown API token');

    const viewer = makeApi({ baseUrl: base, token: () => 'view-secret' });
    const e403 = await viewer.patchDrift(5, { status: 'acknowledged', note: 'x' }).catch((e) => e);
    expect(e403.status).toBe(403);
    expect(e403.headline).toMatch(/^Forbidden \(403\): this needs the operator role/);

    const e400 = await viewer.listDrifts({ limit: 0 }).catch((e) => e);
    expect(e400.code).toBe('invalid_parameter');
    expect(e400.parameter).toBe('limit');
  });

  it('sends a status change as a JSON body', async () => {
    const op = makeApi({ baseUrl: base, token: () => 'op-secret' });
    await expect(op.patchDrift(5, { status: 'resolved', note: 'fixed in PR 12' })).resolves.toMatchObject({ id: 5, status: 'resolved' });
    expect(JSON.parse(seen[seen.length - 1]!.body)).toEqual({ status: 'resolved', note: 'fixed in PR 12' });
  });

  it('says the API is unreachable when nothing answers', async () => {
    const gone = makeApi({ baseUrl: 'http://127.0.0.1:1', token: () => 'op-secret' });
    const e = await gone.listDrifts({}).catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(0);
    expect(e.headline).toMatch(/^API unreachable/);
  });
});
