import { describe, expect, it } from 'vitest';
import { isDocument, MASK, maskValue, show, structuralDiff } from '../../src/lib/diff';

describe('structural diff', () => {
  it('shows only what changed in a policy kept as a JSON string, ignoring key order and formatting', () => {
    const before = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::b/*' }] });
    const after = '{\n "Statement": [{"Resource": "arn:aws:s3:::b/*", "Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow", "Principal": "*"}],\n "Version": "2012-10-17"}';
    expect(isDocument(before, after)).toBe(true);
    expect(structuralDiff(before, after)).toEqual([
      { path: 'Statement[0].Action', op: 'added', new: 's3:PutObject' },
      { path: 'Statement[0].Principal', op: 'added', new: '*' },
    ]);
  });

  it('reports a reordered document as no change, scalars as one change', () => {
    expect(structuralDiff('{"a":1,"b":[1,2]}', '{"b":[1,2],"a":1}')).toEqual([]);
    expect(structuralDiff('t3.micro', 't3.large')).toEqual([{ path: '', op: 'changed', old: 't3.micro', new: 't3.large' }]);
    expect(isDocument('t3.micro', 't3.large')).toBe(false);
    expect(structuralDiff(null, { Owner: 'bob' })).toEqual([{ path: '', op: 'added', new: { Owner: 'bob' } }]);
  });

  it('walks arrays of objects by index and names odd keys with brackets', () => {
    const d = structuralDiff({ rules: [{ port: 22 }, { port: 443 }] }, { rules: [{ port: 22 }, { port: 8443 }], 'a-b': 1 });
    expect(d).toEqual([
      { path: 'rules[1].port', op: 'changed', old: 443, new: 8443 },
      { path: '["a-b"]', op: 'added', new: 1 },
    ]);
  });

  it('masks sensitive values and secrets inside documents', () => {
    expect(maskValue('hunter2', true, 'x')).toBe(MASK);
    expect(maskValue('hunter2', false, 'master_password')).toBe(MASK);
    expect(maskValue({ user: 'bob', db_password: 'x', nested: { api_token: 'y' } }, false, 'config')).toEqual({ user: 'bob', db_password: MASK, nested: { api_token: MASK } });
    expect(maskValue(null, true, 'x')).toBe(null);
    expect(show(undefined)).toBe('(absent)');
    expect(show('')).toBe('""');
    expect(show({ a: 1 })).toBe('{"a":1}');
  });
});
