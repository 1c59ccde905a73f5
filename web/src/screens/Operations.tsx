import { useState } from 'react';
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

  const start = async () => {
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
          <button type="button" onClick={start} disabled={starting} data-testid="ops-start-sync">{t('ops.startSync')}</button>
        </div>
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
                    <tr key={r.id}>
                      <td>{r.id}</td><td>{r.kind}</td><td>{r.trigger}</td><td>{dateTime(r.started_at)}</td>
                      <td className="num">{duration(r.duration_ms)}</td><td className="num">{num(r.keys_written)}</td>
                      <td className="num">{num(r.keys_deleted)}</td>
                      <td><span className={`badge badge-o-${r.outcome}`}>{r.outcome}</span></td><td>{r.message ?? ''}</td>
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
