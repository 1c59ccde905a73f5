import { Coded, OutcomeBadge } from '../components/Badges';
import { useEffect, useRef, useState } from 'react';
import { useModal } from '../components/useModal';
import { api } from '../api/client';
import { Async, ErrorBox } from '../components/Status';
import { dateTime, duration, num, ratio } from '../format';
import { useI18n } from '../i18n';
import { useAsync } from '../useAsync';

export function OperationsScreen() {
  const { t } = useI18n();
  const cache = useAsync(signal => api.cache(signal), []);
  const history = useAsync(signal => api.syncHistory(20, signal), []);
  const [starting, setStarting] = useState(false);
  const [started, setStarted] = useState<string | null>(null);
  const [startError, setStartError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  const startButton = useRef<HTMLButtonElement>(null);
  // While a run is in progress (or one was just started and is not listed yet) the history
  // refreshes itself, so "running" turns into its outcome without a reload.
  const running = (history.data ?? []).some(r => r.outcome === 'running')
    || (started !== null && !(history.data ?? []).some(r => String(r.id) === started && r.outcome !== 'running'));
  const { reload, loading } = history;
  useEffect(() => {
    if (!running || loading) return;
    const id = setTimeout(reload, 2000);
    return () => clearTimeout(id);
  }, [running, loading, reload, history.data]);

  const start = async () => {
    setConfirming(false);
    setStarting(true);
    setStarted(null);
    setStartError(undefined);
    try {
      const res = await api.startSync();
      const id = res.id ?? res.run_id ?? res.runId ?? '';
      setStarted(String(id));
      history.reload();
    } catch (e) {
      setStartError(e);
    } finally {
      setStarting(false);
    }
  };

  return (
    <section className="screen" aria-labelledby="ops-h">
      <h1 id="ops-h">{t('ops.title')}</h1>
      <section className="card" aria-labelledby="ops-cache">
        <h2 id="ops-cache">{t('ops.cache')}</h2>
        <Async state={cache} role="admin">
          {c => (
            <div className="stats" data-testid="ops-cache">
              <div className="stat"><div className="stat-label">{t('ops.hitRatio')}</div><div className="stat-value" data-testid="ops-hit-ratio">{ratio(c.hit_ratio)}</div></div>
              <div className="stat"><div className="stat-label">{t('ops.hits')}</div><div className="stat-value">{num(c.hits)}</div></div>
              <div className="stat"><div className="stat-label">{t('ops.misses')}</div><div className="stat-value">{num(c.misses)}</div></div>
              <div className="stat"><div className="stat-label">{t('ops.fallbacks')}</div><div className="stat-value">{num(c.fallbacks)}</div></div>
              <button type="button" className="secondary" onClick={cache.reload}>{t('common.refresh')} ↻</button>
            </div>
          )}
        </Async>
      </section>
      <section className="card" aria-labelledby="ops-hist" data-testid="ops-history-card">
        <div className="card-head">
          <h2 id="ops-hist">{t('ops.history')}</h2>
          <button ref={startButton} type="button" onClick={() => setConfirming(true)} disabled={starting} data-testid="ops-start-sync">{t('ops.startSync')}</button>
        </div>
        {confirming && <ConfirmSync onConfirm={start} onCancel={() => setConfirming(false)} />}
        {running && <p className="muted" role="status" data-testid="ops-running">{t('ops.running')}</p>}
        <p className="muted">{t('ops.adminNote')}</p>
        {started !== null && <p className="ok" role="status" data-testid="ops-sync-started">{t('ops.syncStarted', { id: started })}</p>}
        {startError !== undefined && <ErrorBox error={startError} role="admin" />}
        <Async state={history} role="admin">
          {runs => (
            <div className="table-wrap">
              <table className="table compact" data-testid="ops-history">
                <thead>
                  <tr>
                    <th>#</th><th>{t('ops.kind')}</th><th>{t('ops.trigger')}</th><th>{t('ops.started')}</th>
                    <th className="num">{t('ops.duration')}</th><th className="num">{t('ops.written')}</th>
                    <th className="num">{t('ops.deleted')}</th><th>{t('ops.outcome')}</th><th>{t('ops.message')}</th>
                  </tr>
                </thead>
                <tbody>
                  {runs.map(r => (
                    <tr key={r.id} data-testid="ops-run" data-id={r.id} data-outcome={r.outcome}>
                      <td>{r.id}</td><td><Coded prefix="synckind" code={r.kind} /></td><td><Coded prefix="trigger" code={r.trigger} /></td><td>{dateTime(r.started_at)}</td>
                      <td className="num">{duration(r.duration_ms)}</td><td className="num">{num(r.keys_written)}</td>
                      <td className="num">{num(r.keys_deleted)}</td>
                      <td><OutcomeBadge outcome={r.outcome} /></td><td>{r.message ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Async>
      </section>
    </section>
  );
}

/** Asks before a sync: it rewrites the whole cache and runs for minutes. */
function ConfirmSync({ onConfirm, onCancel }: { onConfirm: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  useModal(dialog, onCancel, { initial: cancel });
  return (
    <div className="overlay" role="presentation" onMouseDown={e => { if (e.target === e.currentTarget) onCancel(); }}>
      <div ref={dialog} className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="sync-confirm-h" aria-describedby="sync-confirm-p" tabIndex={-1} data-testid="ops-confirm">
        <h2 id="sync-confirm-h">{t('ops.confirmTitle')}</h2>
        <p id="sync-confirm-p">{t('ops.confirmText')}</p>
        <div className="dialog-actions">
          <button ref={cancel} type="button" className="secondary" onClick={onCancel} data-testid="ops-confirm-cancel">{t('key.cancel')}</button>
          <button type="button" onClick={onConfirm} data-testid="ops-confirm-start">{t('ops.confirm')}</button>
        </div>
      </div>
    </div>
  );
}
