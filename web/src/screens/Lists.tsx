import { useState } from 'react';
import { api } from '../api/client';
import { RISK_LEVELS, SERVICE_TYPES, type CursorPage, type Recommendation } from '../api/types';
import { Customer360Modal } from '../components/Customer360Modal';
import { download, RecTable, type Row } from '../components/RecTable';
import { Async, ErrorBox } from '../components/Status';
import { num } from '../format';
import { useI18n } from '../i18n';
import { useAsync } from '../useAsync';

type Mode = 'services' | 'risk' | 'clusters';
const PAGE_SIZES = [25, 50, 100, 200];

function rowsOf(items: CursorPage['items']): Row[] {
  return items.map(it => ('service_type' in it ? { isdn: it.isdn, rec: it as Recommendation } : { isdn: it.isdn }));
}

export function ListsScreen() {
  const { t } = useI18n();
  const [mode, setMode] = useState<Mode>('services');
  const [value, setValue] = useState<Record<Mode, string>>({ services: 'EasyCredit', risk: 'LOW', clusters: '' });
  const [limit, setLimit] = useState(50);
  const [open, setOpen] = useState<string | null>(null);
  const clusters = useAsync(signal => api.analyticsClusters(signal), []);
  const clusterIds = clusters.data
    ? clusters.data.filter(c => c.cluster_group !== null).map(c => String(c.cluster_group))
    : ['0', '1', '2', '3'];
  const current = mode === 'clusters' ? value.clusters || clusterIds[0] || '0' : value[mode];

  const options = mode === 'services' ? SERVICE_TYPES : mode === 'risk' ? RISK_LEVELS : clusterIds;
  const labelOf = (id: string) => {
    if (mode !== 'clusters') return id;
    const c = clusters.data?.find(x => String(x.cluster_group) === id);
    return c?.cluster_label ? `${id} — ${c.cluster_label}` : id;
  };

  return (
    <section className="screen" aria-labelledby="lists-h">
      <h1 id="lists-h">{t('lists.title')}</h1>
      <div className="toolbar">
        <div className="tabs" role="tablist">
          {(['services', 'risk', 'clusters'] as Mode[]).map(m => (
            <button
              key={m} type="button" role="tab" aria-selected={mode === m} data-testid={`lists-mode-${m}`}
              className={mode === m ? 'tab active' : 'tab'} onClick={() => setMode(m)}
            >
              {t(m === 'services' ? 'lists.byService' : m === 'risk' ? 'lists.byRisk' : 'lists.byCluster')}
            </button>
          ))}
        </div>
        <select
          aria-label={t(mode === 'services' ? 'col.service' : mode === 'risk' ? 'col.risk' : 'col.cluster')}
          data-testid="lists-value" value={current} onChange={e => setValue(v => ({ ...v, [mode]: e.target.value }))}
        >
          {options.map(o => <option key={o} value={o}>{labelOf(o)}</option>)}
        </select>
        <label className="inline">
          {t('lists.pageSize')}{' '}
          <select value={limit} data-testid="lists-limit" onChange={e => setLimit(Number(e.target.value))}>
            {PAGE_SIZES.map(n => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <ExportButton segment={mode} id={current} />
      </div>
      <p className="muted">{t('lists.openHint')}</p>
      {mode === 'services'
        ? <ServiceList key={`${current}-${limit}`} type={current} limit={limit} onOpen={setOpen} />
        : <CursorList key={`${mode}-${current}-${limit}`} mode={mode} id={current} limit={limit} onOpen={setOpen} />}
      {open && <Customer360Modal subscriber={{ isdn: open }} onClose={() => setOpen(null)} />}
    </section>
  );
}

function ServiceList({ type, limit, onOpen }: { type: string; limit: number; onOpen: (isdn: string) => void }) {
  const { t } = useI18n();
  const [offset, setOffset] = useState(0);
  const state = useAsync(signal => api.serviceList(type, offset, limit, signal), [type, offset, limit]);
  return (
    <Async state={state} role="analyst">
      {page => (
        <>
          <Pager
            info={t('common.rows', { from: num(page.total === 0 ? 0 : page.offset + 1), to: num(page.offset + page.items.length), total: num(page.total) })}
            page={Math.floor(offset / limit) + 1}
            onFirst={offset > 0 ? () => setOffset(0) : undefined}
            onPrev={offset > 0 ? () => setOffset(Math.max(0, offset - limit)) : undefined}
            onNext={offset + limit < page.total ? () => setOffset(offset + limit) : undefined}
            loading={state.loading}
          />
          <RecTable rows={page.items.map(r => ({ isdn: r.isdn, rec: r }))} onOpen={onOpen} testid="list-table" />
        </>
      )}
    </Async>
  );
}

function CursorList({ mode, id, limit, onOpen }: { mode: 'risk' | 'clusters'; id: string; limit: number; onOpen: (isdn: string) => void }) {
  const { t } = useI18n();
  // cursors[i] opens page i; the API's cursors only go forward, so earlier ones are kept.
  const [cursors, setCursors] = useState<string[]>(['']);
  const cursor = cursors[cursors.length - 1];
  const state = useAsync(
    signal => (mode === 'risk' ? api.riskList(id, cursor, limit, signal) : api.clusterList(id, cursor, limit, signal)),
    [mode, id, cursor, limit],
  );
  const pageNo = cursors.length;
  return (
    <Async state={state} role="analyst">
      {page => {
        const from = (pageNo - 1) * limit;
        return (
          <>
            <Pager
              info={t('common.rows', { from: num(page.items.length ? from + 1 : 0), to: num(from + page.items.length), total: num(page.total) })}
              page={pageNo}
              onFirst={pageNo > 1 ? () => setCursors(['']) : undefined}
              onPrev={pageNo > 1 ? () => setCursors(c => c.slice(0, -1)) : undefined}
              onNext={page.next_cursor ? () => setCursors(c => [...c, page.next_cursor as string]) : undefined}
              loading={state.loading}
            />
            <RecTable rows={rowsOf(page.items)} onOpen={onOpen} testid="list-table" />
          </>
        );
      }}
    </Async>
  );
}

function Pager({ info, page, onFirst, onPrev, onNext, loading }: {
  info: string; page: number; onFirst?: () => void; onPrev?: () => void; onNext?: () => void; loading: boolean;
}) {
  const { t } = useI18n();
  return (
    <nav className="pager" aria-label="pagination">
      <button type="button" className="secondary" onClick={onFirst} disabled={!onFirst || loading} data-testid="page-first">« {t('common.first')}</button>
      <button type="button" className="secondary" onClick={onPrev} disabled={!onPrev || loading} data-testid="page-prev">‹ {t('common.prev')}</button>
      <span data-testid="page-info" data-page={page}>{t('common.page', { n: page })} · {info}</span>
      <button type="button" onClick={onNext} disabled={!onNext || loading} data-testid="page-next">{t('common.next')} ›</button>
    </nav>
  );
}

function ExportButton({ segment, id }: { segment: Mode; id: string }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api.exportCsv(segment, id);
      download(`ut360-${segment}-${id}.csv`, await res.blob());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="export">
      <button type="button" onClick={run} disabled={busy} data-testid="export-csv">
        {busy ? t('common.exporting') : t('common.exportCsv')}
      </button>
      {error !== undefined && <ErrorBox error={error} role="campaign" />}
    </span>
  );
}
