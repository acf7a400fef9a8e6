import { describe, expect, it } from 'vitest';
import type { DriftItem } from '../../src/lib/api';
import { formatView, matchesFilters, parseView, toListParams } from '../../src/lib/urlState';

const item = (over: Partial<DriftItem> = {}): DriftItem => ({
  id: 7,
  alert_key: 'k',
  event_id: 'e',
  event_time: '2026-11-25T09:00:00Z',
  detected_at: '2026-11-25T09:00:01Z',
  workspace: 'prod/app',
  resource_address: 'aws_instance.web[0]',
  resource_type: 'aws_instance',
  kind: 'drift',
  attribute: 'instance_type',
  severity: 'high',
  status: 'open',
  principal: { type: 'IAMUser', arn: 'arn:aws:iam::1:user/bob', name: 'bob', account_id: '1' },
  source_ip: '203.0.113.1',
  user_agent: 'cli',
  region: 'eu-west-1',
  account_id: '1',
  event_name: 'ModifyInstanceAttribute',
  event_source: 'ec2.amazonaws.com',
  service: 'ec2',
  changes: [{ path: 'instance_type', old: 't3.micro', new: 't3.large' }],
  summary: '',
  ...over,
});

describe('URL state', () => {
  it('round-trips filters, sort and selection in a fixed key order', () => {
    const q = 'q=web&severity=high%2Ccritical&sort=oldest&sel=42&node=prod%2Fapp%3Aaws_instance.web%5B0%5D&ws=prod%2Fapp';
    const v = parseView(q);
    expect(v.filters).toEqual({ severity: 'high,critical', q: 'web' });
    expect(v.sort).toBe('oldest');
    expect(v.selected).toBe(42);
    expect(v.node).toBe('prod/app:aws_instance.web[0]');
    expect(v.ws).toBe('prod/app');
    expect(formatView(v)).toBe('severity=high%2Ccritical&q=web&sort=oldest&sel=42&node=prod%2Fapp%3Aaws_instance.web%5B0%5D&ws=prod%2Fapp');
    expect(parseView(formatView(v))).toEqual(v);
  });

  it('drops unknown keys, empty values and bad selections', () => {
    const v = parseView('token=secret&severity=&status=open&sel=abc&sort=sideways');
    expect(v).toEqual({ filters: { status: 'open' }, sort: 'newest', selected: null, node: null, ws: null });
    expect(formatView(v)).toBe('status=open');
  });

  it('maps filters to exactly the REST parameters', () => {
    const p = toListParams({ severity: 'high', account: '123', since: '2026-11-25T10:00:00Z' }, 'oldest', 200, 'CUR');
    expect(p).toEqual({ limit: 200, severity: 'high', account: '123', since: '2026-11-25T10:00:00Z', sort: 'oldest', cursor: 'CUR' });
    const local = toListParams({ until: '2026-11-25T10:00' }, 'newest', 50);
    expect(local.until).toBe(new Date('2026-11-25T10:00').toISOString());
    expect('sort' in local).toBe(false);
  });

  it('decides whether a live alert belongs in a filtered table like the API would', () => {
    expect(matchesFilters(item(), {})).toBe(true);
    expect(matchesFilters(item(), { severity: 'critical,high' })).toBe(true);
    expect(matchesFilters(item(), { severity: 'critical' })).toBe(false);
    expect(matchesFilters(item(), { workspace: 'prod/network' })).toBe(false);
    expect(matchesFilters(item(), { principal: 'arn:aws:iam::1:user/bob' })).toBe(true);
    expect(matchesFilters(item(), { address: 'aws_instance.*' })).toBe(true);
    expect(matchesFilters(item(), { address: 'aws_instance.web[?]' })).toBe(true);
    expect(matchesFilters(item(), { address: 'aws_s3*' })).toBe(false);
    expect(matchesFilters(item(), { q: 'MODIFYinstance' })).toBe(true);
    expect(matchesFilters(item(), { q: 'lambda' })).toBe(false);
    expect(matchesFilters(item(), { since: '2026-11-25T09:00:00Z', until: '2026-11-25T09:00:01Z' })).toBe(true);
    expect(matchesFilters(item(), { until: '2026-11-25T09:00:00Z' })).toBe(false);
    expect(matchesFilters(item({ event_time: null }), { since: '2026-01-01T00:00:00Z' })).toBe(false);
  });
});
