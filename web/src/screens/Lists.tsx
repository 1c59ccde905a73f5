import { useEffect, useState, type FormEvent } from 'react';
import { api, segmentQuery } from '../api/client';
import { RISK_LEVELS, SERVICE_TYPES, type SegmentFilter } from '../api/types';
import { Customer360Modal } from '../components/Customer360Modal';
import { download, RecTable } from '../components/RecTable';
import { Async, ErrorBox } from '../components/Status';
import { num } from '../format';
import { useI18n } from '../i18n';
import { useAsync } from '../useAsync';
import { useHashParams } from '../useHashParams';

export const PAGE_SIZES = [25, 50, 100, 200, 500, 1000];
const DEFAULT_SIZE = 50;

/**
 * Subscriber lists and campaign segments: any subset of service × risk × cluster × a minimum
 * priority, by descending priority (GET /api/v1/segments), paged by offset so any page is one
 * request away. Filters, page size and page live in the URL: a reload shows the same page and
 * Back returns to the previous one.
 */
export function ListsScreen() {
  const { t } = useI18n();
  const [params, setParams] = useHashParams();
  const filter: SegmentFilter = {
    service: params.get('service') ?? '',
    risk: params.get('risk') ?? '',
    cluster: params.get('cluster') ?? '',
    min_priority: params.get('min') ?? '',
  };
  const sizeParam = Number(params.get('size'));
  const size = PAGE_SIZES.includes(sizeParam) ? sizeParam : DEFAULT_SIZE;
  const page = Math.max(1, Math.floor(Number(params.get('page')) || 1));
  const offset = (page - 1) * size;
  const query = segmentQuery(filter);
  const state = useAsync(signal => api.segment(filter, offset, size, signal), [query, offset, size]);
  const clusters = useAsync(signal => api.analyticsClusters(signal), []);
  const clusterIds = clusters.data
    ? clusters.data.filter(c => c.cluster_group !== null).map(c => String(c.cluster_group))
    : ['0', '1', '2', '3'];
  const clusterLabel = (id: string) => {
    const c = clusters.data?.find(x => String(x.cluster_group) === id);
    return c?.cluster_label ? `${id} — ${c.cluster_label}` : id;
  };
  const [open, setOpen] = useState<string | null>(null);
  // A new filter starts again at page 1.
  const setFilter = (key: string, value: string) => setParams({ [key]: value || null, page: null });

  return (
    <section className="screen" aria-labelledby="lists-h">
      <h1 id="lists-h">{t('lists.title')}</h1>
      <p className="muted">{t('lists.hint')}</p>
      <div className="toolbar filters">
        <label className="inline">
          {t('col.service')}{' '}
          <select data-testid="seg-service" value={filter.service} onChange={e => setFilter('service', e.target.value)}>
            <option value="">{t('lists.any')}</option>
            {SERVICE_TYPES.map(s => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label className="inline">
          {t('col.risk')}{' '}
          <select data-testid="seg-risk" value={filter.risk} onChange={e => setFilter('risk', e.target.value)}>
            <option value="">{t('lists.any')}</option>
            {RISK_LEVELS.map(r => <option key={r} value={r}>{t(`risk.${r}`)} ({r})</option>)}
          </select>
        </label>
        <label className="inline">
          {t('col.cluster')}{' '}
          <select data-testid="seg-cluster" value={filter.cluster} onChange={e => setFilter('cluster', e.target.value)}>
            <option value="">{t('lists.any')}</option>
            {clusterIds.map(c => <option key={c} value={c}>{clusterLabel(c)}</option>)}
          </select>
        </label>
        <MinPriority value={filter.min_priority ?? ''} onApply={v => setFilter('min', v)} />
        <label className="inline">
          {t('lists.pageSize')}{' '}
          <select value={size} data-testid="lists-limit" onChange={e => setParams({ size: Number(e.target.value), page: null })}>
            {PAGE_SIZES.map(n => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <ExportButton filter={filter} total={state.data?.total} />
      </div>
      <p className="muted">{t('lists.openHint')}</p>
      <Async state={state} role="analyst">
        {data => {
          const pages = Math.max(1, Math.ceil(data.total / size));
          // The label is the page these rows are (the answer's own offset), not the page asked
          // for: while a newer page loads, the rows and their label stay in step.
          const shown = Math.floor(data.offset / size) + 1;
          return (
            <>
              <Pager
                page={shown} target={page} pages={pages} loading={state.loading}
                info={t('common.rows', {
                  from: num(data.items.length ? data.offset + 1 : 0), to: num(data.offset + data.items.length), total: num(data.total),
                })}
                onPage={p => setParams({ page: p === 1 ? null : p })}
              />
              <div data-testid="list-source" data-source={data.source} hidden />
              <RecTable rows={data.items.map(r => ({ isdn: r.isdn, rec: r }))} onOpen={setOpen} testid="list-table" />
            </>
          );
        }}
      </Async>
      {open && <Customer360Modal subscriber={{ isdn: open }} onClose={() => setOpen(null)} />}
    </section>
  );
}

function MinPriority({ value, onApply }: { value: string; onApply: (v: string) => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const n = Number(text);
  const valid = text.trim() === '' || (Number.isFinite(n) && n >= 0 && n <= 100 && /^\d+(\.\d{1,2})?$/.test(text.trim()));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (valid) onApply(text.trim());
  };
  return (
    <form className="inline" onSubmit={submit}>
      <label className="inline">
        {t('lists.minPriority')}{' '}
        <input
          type="text" inputMode="decimal" size={5} data-testid="seg-min" value={text} aria-invalid={!valid}
          onChange={e => setText(e.target.value)} onBlur={() => { if (valid && text.trim() !== value) onApply(text.trim()); }}
        />
      </label>
      <button type="submit" className="secondary" data-testid="seg-apply" disabled={!valid}>{t('lists.apply')}</button>
      {!valid && <span className="field-error" role="alert">{t('lists.minInvalid')}</span>}
    </form>
  );
}

/**
 * First / previous / next / last and a page number to jump to. Each button goes to a page
 * counted from the page asked for (target), never from a click's own increment of a shared
 * cursor list, so a double click cannot leave the label one page off the rows.
 */
function Pager({ page, target, pages, info, loading, onPage }: {
  page: number; target: number; pages: number; info: string; loading: boolean; onPage: (page: number) => void;
}) {
  const { t } = useI18n();
  const [jump, setJump] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = Math.floor(Number(jump));
    if (p >= 1 && p <= pages) {
      onPage(p);
      setJump('');
    }
  };
  return (
    <nav className="pager" aria-label={t('lists.pagination')}>
      <button type="button" className="secondary" onClick={() => onPage(1)} disabled={target <= 1} data-testid="page-first">« {t('common.first')}</button>
      <button type="button" className="secondary" onClick={() => onPage(target - 1)} disabled={target <= 1} data-testid="page-prev">‹ {t('common.prev')}</button>
      <span data-testid="page-info" data-page={page} data-target={target} data-pages={pages} aria-live="polite" aria-busy={loading}>
        {t('common.page', { n: num(page) })} / {num(pages)} · {info}
      </span>
      <button type="button" onClick={() => onPage(target + 1)} disabled={target >= pages} data-testid="page-next">{t('common.next')} ›</button>
      <button type="button" className="secondary" onClick={() => onPage(pages)} disabled={target >= pages} data-testid="page-last">{t('common.last')} »</button>
      <form className="inline" onSubmit={submit}>
        <label className="inline">
          {t('lists.goto')}{' '}
          <input type="number" min={1} max={pages} value={jump} data-testid="page-jump" onChange={e => setJump(e.target.value)} />
        </label>
        <button type="submit" className="secondary" data-testid="page-go">{t('lists.go')}</button>
      </form>
    </nav>
  );
}

function ExportButton({ filter, total }: { filter: SegmentFilter; total?: number }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api.segmentExport(filter);
      const name = segmentQuery(filter).replace(/[&=]/g, '-') || 'all';
      download(`ut360-segment-${name}.csv`, await res.blob());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="export">
      <button type="button" onClick={run} disabled={busy} data-testid="export-csv">
        {busy ? t('common.exporting') : total !== undefined ? t('lists.export', { n: num(total) }) : t('common.exportCsv')}
      </button>
      {error !== undefined && <ErrorBox error={error} role="campaign" />}
    </span>
  );
}
