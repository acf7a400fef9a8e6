import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { formatView, parseView, type ViewState } from '../lib/urlState';

/** The view (filters, sort, selection) held in the URL query. */
export function useView(): [ViewState, (patch: Partial<ViewState>, replace?: boolean) => void] {
  const [params, setParams] = useSearchParams();
  const view = useMemo(() => parseView(params), [params]);
  const set = useCallback(
    (patch: Partial<ViewState>, replace = false) => {
      setParams((cur) => new URLSearchParams(formatView({ ...parseView(cur), ...patch })), { replace });
    },
    [setParams],
  );
  return [view, set];
}
