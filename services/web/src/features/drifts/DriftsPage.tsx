import { useNavigate, useParams } from 'react-router';
import { useView } from '../../app/useView';
import { formatView } from '../../lib/urlState';
import { DetailPanel } from './DetailPanel';
import { DriftList } from './DriftList';

/** /drifts and /drifts/{id}: the table, with that drift's detail open. */
export function DriftsPage() {
  const { id } = useParams();
  const open = id !== undefined && /^\d+$/.test(id) ? Number(id) : null;
  const [view, setView] = useView();
  const nav = useNavigate();
  const qs = (sel: number | null) => {
    const s = formatView({ ...view, selected: sel });
    return s ? '?' + s : '';
  };
  return (
    <div className={open !== null ? 'with-detail' : 'full'}>
      <section className="pane" aria-label="Drift table">
        <h1 className="visually-hidden">Drifts</h1>
        <DriftList
          filters={view.filters}
          sort={view.sort}
          onFilters={(filters, sort) => setView({ filters, sort })}
          selected={open ?? view.selected}
          onSelect={(sel) => nav(`/drifts/${sel}${qs(null)}`, { replace: open !== null })}
          onOpen={(sel) => nav(`/drifts/${sel}${qs(null)}`)}
          onClose={() => nav(`/drifts${qs(open)}`)}
        />
      </section>
      {open !== null && <DetailPanel id={open} onClose={() => nav(`/drifts${qs(open)}`)} />}
    </div>
  );
}
