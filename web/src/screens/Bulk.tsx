import { useMemo, useState, type ChangeEvent } from 'react';
import { api } from '../api/client';
import type { BulkResult } from '../api/types';
import { bulkToCsv, MAX_BULK, parseIsdnList } from '../bulk';
import { Customer360Modal } from '../components/Customer360Modal';
import { download, RecTable } from '../components/RecTable';
import { ErrorBox, Loading } from '../components/Status';
import { num } from '../format';
import { useI18n } from '../i18n';

const PAGE = 100;

export function BulkScreen() {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [result, setResult] = useState<BulkResult | null>(null);
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const isdns = useMemo(() => parseIsdnList(text), [text]);
  const tooMany = isdns.length > MAX_BULK;

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file) setText(await file.text());
    e.target.value = '';
  };

  const run = async () => {
    setBusy(true);
    setError(undefined);
    setResult(null);
    setPage(0);
    try {
      setResult(await api.bulk(isdns));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
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
          {tooMany ? t('bulk.tooMany', { n: num(isdns.length) }) : t('bulk.count', { n: num(isdns.length) })}
        </span>
        <button type="button" data-testid="bulk-run" onClick={run} disabled={busy || isdns.length === 0 || tooMany}>
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
