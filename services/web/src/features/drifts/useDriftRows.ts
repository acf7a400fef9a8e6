import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { useSession } from '../../app/session';
import type { DriftItem } from '../../lib/api';
import { matchesFilters, toListParams, type Filters, type Sort } from '../../lib/urlState';

const PAGE = 200;

export interface DriftRows {
  rows: DriftItem[];
  fresh: ReadonlySet<number>;
  error: unknown;
  isLoading: boolean;
  hasNext: boolean;
  fetchNext: () => void;
  isFetchingNext: boolean;
}

/** The table's rows: keyset pages from the API (server-side filters) with
 * live alerts that match the filters slid in on top (newest-first only). */
export function useDriftRows(filters: Filters, sort: Sort): DriftRows {
  const { api, live } = useSession();
  const key = JSON.stringify([filters, sort]);
  const q = useInfiniteQuery({
    queryKey: ['drifts', filters, sort],
    queryFn: ({ pageParam }) => api.listDrifts(toListParams(filters, sort, PAGE, pageParam)),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    staleTime: Infinity, // the feed keeps it current
  });
  const [liveRows, setLiveRows] = useState<{ key: string; rows: DriftItem[] }>({ key, rows: [] });
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  if (liveRows.key !== key) setLiveRows({ key, rows: [] });

  useEffect(() => {
    const timers = new Set<ReturnType<typeof setTimeout>>();
    const off = live.onAlert((a) => {
      if (sort !== 'newest' || !matchesFilters(a, filters)) return;
      setLiveRows((cur) => (cur.key === key ? { key, rows: [a, ...cur.rows] } : { key, rows: [a] }));
      setFresh((s) => new Set(s).add(a.id));
      const t = setTimeout(() => {
        timers.delete(t);
        setFresh((s) => {
          const n = new Set(s);
          n.delete(a.id);
          return n;
        });
      }, 4000);
      timers.add(t);
    });
    return () => {
      off();
      for (const t of timers) clearTimeout(t);
    };
  }, [live, key, filters, sort]);

  const first = q.data?.pages[0]?.items[0];
  useEffect(() => {
    if (first && Object.keys(filters).length === 0 && sort === 'newest') live.noteLoaded(first.id);
  }, [first, filters, sort, live]);

  const rows = useMemo(() => {
    const loaded = q.data?.pages.flatMap((p) => p.items) ?? [];
    const ids = new Set(loaded.map((r) => r.id));
    const extra = liveRows.key === key ? liveRows.rows.filter((r) => !ids.has(r.id)) : [];
    // an alert seen live and then in a page once: the page's copy wins
    const seen = new Set<number>();
    const out: DriftItem[] = [];
    for (const r of [...extra, ...loaded]) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      out.push(r);
    }
    return out;
  }, [q.data, liveRows, key]);

  return {
    rows,
    fresh,
    error: q.error,
    isLoading: q.isLoading,
    hasNext: q.hasNextPage,
    fetchNext: () => void q.fetchNextPage(),
    isFetchingNext: q.isFetchingNextPage,
  };
}
