import { useView } from '../../app/useView';
import { GraphPanel } from './GraphPanel';
import { NodeDrifts } from './NodeDrifts';

/** /graph: the graph with the clicked node's drifts beside it. */
export default function GraphPage() {
  const [view, setView] = useView();
  return (
    <div className={view.node ? 'with-detail' : 'full'}>
      <section className="pane" aria-label="Graph">
        <h1 className="visually-hidden">Resource graph</h1>
        <GraphPanel workspace={view.ws} onWorkspace={(ws) => setView({ ws: ws || null, node: null })} focus={view.node} onNode={(node) => setView({ node })} />
      </section>
      {view.node && <NodeDrifts node={view.node} onClose={() => setView({ node: null })} />}
    </div>
  );
}
