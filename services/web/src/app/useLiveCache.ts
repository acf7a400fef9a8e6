import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { useSession } from './session';

/** Keeps cached summaries honest as the feed speaks: stats after alerts
 * (at most every 2 s), workspaces and graphs after a state change. */
export function useLiveCache(): void {
  const { live } = useSession();
  const qc = useQueryClient();
  useEffect(() => {
    let t: ReturnType<typeof setTimeout> | null = null;
    const offA = live.onAlert(() => {
      if (t) return;
      t = setTimeout(() => {
        t = null;
        void qc.invalidateQueries({ queryKey: ['stats'] });
        void qc.invalidateQueries({ queryKey: ['resource'] });
      }, 2000);
    });
    const offS = live.onState(() => {
      void qc.invalidateQueries({ queryKey: ['workspaces'] });
      void qc.invalidateQueries({ queryKey: ['graph'] });
    });
    const offR = live.onReset(() => void qc.invalidateQueries());
    return () => {
      offA();
      offS();
      offR();
      if (t) clearTimeout(t);
    };
  }, [live, qc]);
}
