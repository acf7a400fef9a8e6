import { describe, expect, it } from 'vitest';
import type { DriftItem } from '../../src/lib/api';
import { backoffMs, catchUp, SeenIds, type Page } from '../../src/lib/live';

const it_ = (id: number) => ({ id }) as DriftItem;

/** A list endpoint over ids (newest first, keyset pages of `size`), as the API pages. */
function pages(ids: number[], size: number) {
  const sorted = [...ids].sort((a, b) => b - a);
  const calls: (string | undefined)[] = [];
  const fetchPage = async (cursor?: string): Promise<Page> => {
    calls.push(cursor);
    const below = cursor ? Number(cursor) : Infinity;
    const items = sorted.filter((x) => x < below).slice(0, size);
    const more = sorted.filter((x) => x < below).length > size;
    return { items: items.map(it_), next_cursor: more ? String(items[items.length - 1]) : null };
  };
  return { fetchPage, calls };
}

describe('reconnect backoff', () => {
  it('doubles from 0.5 s up to 15 s with ±20 % jitter', () => {
    expect(backoffMs(1, () => 0.5)).toBe(500);
    expect(backoffMs(2, () => 0.5)).toBe(1000);
    expect(backoffMs(5, () => 0.5)).toBe(8000);
    expect(backoffMs(6, () => 0.5)).toBe(15000);
    expect(backoffMs(40, () => 0.5)).toBe(15000);
    expect(backoffMs(1, () => 0)).toBe(400);
    expect(backoffMs(1, () => 1)).toBe(600);
  });
});

describe('catch-up after a reconnect', () => {
  it('returns what was committed above the newest id held, oldest first, across pages', async () => {
    const { fetchPage, calls } = pages([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3);
    const r = await catchUp(4, fetchPage);
    expect(r.complete).toBe(true);
    expect(r.items.map((x) => x.id)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(calls).toEqual([undefined, '8', '5']); // stops at the page holding id 4
  });

  it('skips ids lost to sequence gaps and ends at the last page', async () => {
    const { fetchPage } = pages([2, 9, 11], 2);
    expect((await catchUp(0, fetchPage)).items.map((x) => x.id)).toEqual([2, 9, 11]);
    expect((await catchUp(11, fetchPage)).items).toEqual([]);
  });

  it('says incomplete when more was missed than maxPages hold', async () => {
    const { fetchPage } = pages(Array.from({ length: 50 }, (_, i) => i + 1), 5);
    const r = await catchUp(0, fetchPage, 3);
    expect(r.complete).toBe(false);
    expect(r.items.map((x) => x.id)).toEqual(Array.from({ length: 15 }, (_, i) => i + 36));
  });
});

describe('delivered ids', () => {
  it('delivers each id once and tracks the newest', () => {
    const s = new SeenIds(100);
    expect(s.add(5)).toBe(true);
    expect(s.add(5)).toBe(false);
    expect(s.add(3)).toBe(true);
    expect(s.newest).toBe(5);
    s.knowUpTo(9);
    expect(s.newest).toBe(9);
    expect(s.add(10)).toBe(true);
  });

  it('forgets the oldest beyond its bound and refuses ids below what it forgot', () => {
    const s = new SeenIds(3);
    for (const id of [1, 2, 3, 4]) s.add(id);
    expect(s.add(4)).toBe(false);
    expect(s.add(1)).toBe(false); // below the window: treated as seen, never re-shown
    expect(s.add(5)).toBe(true);
  });
});
