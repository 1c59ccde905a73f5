import { useMemo, useRef, useState, type ChangeEvent } from 'react';
import { api } from '../api/client';
import type { BulkResult } from '../api/types';
import { bulkToCsv, countListLines, MAX_BULK } from '../bulk';
import { Customer360Modal } from '../components/Customer360Modal';
import { download, RecTable } from '../components/RecTable';
import { ErrorBox, Loading } from '../components/Status';
import { num } from '../format';
import { useI18n } from '../i18n';

const PAGE = 100;
const REJECTED_SHOWN = 20;

export function BulkScreen() {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [result, setResult] = useState<BulkResult | null>(null);
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const count = useMemo(() => countListLines(text), [text]);
  const tooMany = count > MAX_BULK;
  // Only the latest run's answer is shown: an earlier one that arrives later is dropped.
  const runId = useRef(0);

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file) setText(await file.text());
    e.target.value = '';
  };

  const run = async () => {
    const id = ++runId.current;
    setBusy(true);
    setError(undefined);
    setResult(null);
    setPage(0);
    try {
      const answer = await api.bulkCsv(text);
      if (id === runId.current) setResult(answer);
    } catch (err) {
      if (id === runId.current) setError(err);
    } finally {
      if (id === runId.current) setBusy(false);
    }
  };

  const rows = result ? result.results.slice(page * PAGE, (page + 1) * PAGE).map(r => ({
    isdn: r.isdn, found: r.found, rec: r.found ? r.recommendation : null,
  })) : [];
  const pages = result ? Math.max(1, Math.ceil(result.results.length / PAGE)) : 0;

  return (
    <section className="screen" aria-labelledby="bulk-h">
      <h1 id="bulk-h">{t('bulk.title')}</h1>
      <p className="muted">{t('bulk.hint')}</p>
      <textarea
        data-testid="bulk-input" rows={8} value={text} spellCheck={false}
        aria-label={t('bulk.title')} onChange={e => setText(e.target.value)}
      />
      <div className="toolbar">
        <label className="file-button">
          {t('bulk.upload')}
          <input type="file" accept=".csv,.txt,text/csv,text/plain" data-testid="bulk-file" onChange={onFile} />
        </label>
        <span data-testid="bulk-count" className={tooMany ? 'field-error' : 'muted'}>
          {tooMany ? t('bulk.tooMany', { n: num(count) }) : t('bulk.count', { n: num(count) })}
        </span>
        <button type="button" data-testid="bulk-run" onClick={run} disabled={busy || count === 0 || tooMany}>
          {t('bulk.run')}
        </button>
      </div>
      {busy && <Loading />}
      {error !== undefined && <ErrorBox error={error} onRetry={run} role="campaign" />}
      {result && (
        <div data-testid="bulk-result">
          <div className="stats">
            <div className="stat"><div className="stat-label">{t('bulk.requested')}</div><div className="stat-value" data-testid="bulk-requested" data-raw={result.requested}>{num(result.requested)}</div></div>
            <div className="stat"><div className="stat-label">{t('bulk.found')}</div><div className="stat-value pos" data-testid="bulk-found" data-raw={result.found}>{num(result.found)}</div></div>
            <div className="stat"><div className="stat-label">{t('bulk.notFound')}</div><div className="stat-value neg" data-testid="bulk-not-found" data-raw={result.not_found}>{num(result.not_found)}</div></div>
            <div className="stat"><div className="stat-label">{t('bulk.cached')}</div><div className="stat-value">{result.cached ? t('bulk.yes') : t('bulk.no')}</div></div>
            <button type="button" data-testid="bulk-download"
              onClick={() => download('ut360-bulk.csv', new Blob([bulkToCsv(result)], { type: 'text/csv;charset=utf-8' }))}>
              {t('bulk.download')}
            </button>
          </div>
          {result.rejected_count > 0 && (
            <div className="warning" role="status" data-testid="bulk-rejected" data-count={result.rejected_count}>
              <p>{t('bulk.rejected', { n: num(result.rejected_count) })}</p>
              <ul>
                {result.rejected.slice(0, REJECTED_SHOWN).map(r => (
                  <li key={r.line} data-testid="bulk-rejected-line" data-line={r.line}>
                    {t('bulk.rejectedLine', {
                      line: num(r.line),
                      value: r.value === '' ? t('bulk.emptyCell') : `«${r.value}»`,
                      reason: t(r.reason === 'missing_column' ? 'bulk.reason.missing_column' : 'bulk.reason.not_an_isdn'),
                    })}
                  </li>
                ))}
              </ul>
              {result.rejected_count > REJECTED_SHOWN && <p>{t('bulk.rejectedMore', { n: num(result.rejected_count - REJECTED_SHOWN) })}</p>}
            </div>
          )}
          <nav className="pager" aria-label="pagination">
            <button type="button" className="secondary" disabled={page === 0} onClick={() => setPage(p => p - 1)}>‹ {t('common.prev')}</button>
            <span>{t('common.page', { n: page + 1 })} / {pages}</span>
            <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(p => p + 1)}>{t('common.next')} ›</button>
          </nav>
          <RecTable rows={rows} onOpen={setOpen} showFound testid="bulk-table" />
        </div>
      )}
      {open && <Customer360Modal subscriber={{ isdn: open }} onClose={() => setOpen(null)} />}
    </section>
  );
}
