import type { Recommendation } from '../api/types';
import { money, num, DASH } from '../format';
import { useI18n } from '../i18n';
import { PriorityBadge, RiskBadge, SubscriberType } from './Badges';

export type Row = { isdn: string; rec?: Recommendation | null; found?: boolean };

/** A table of recommendations; a row opens the 360 modal (click or Enter). */
export function RecTable({ rows, onOpen, showFound, testid }: {
  rows: Row[]; onOpen: (isdn: string) => void; showFound?: boolean; testid: string;
}) {
  const { t } = useI18n();
  if (rows.length === 0) return <p className="muted" data-testid={`${testid}-empty`}>{t('common.none')}</p>;
  return (
    <div className="table-wrap">
      <table className="table rows" data-testid={testid}>
        <thead>
          <tr>
            <th>{t('col.isdn')}</th>
            {showFound && <th>{t('col.found')}</th>}
            <th>{t('col.type')}</th>
            <th>{t('col.service')}</th>
            <th className="num">{t('col.advance')}</th>
            <th className="num">{t('col.revenue')}</th>
            <th>{t('col.risk')}</th>
            <th className="num">{t('col.cluster')}</th>
            <th className="num">{t('col.arpu')}</th>
            <th>{t('col.trend')}</th>
            <th>{t('col.priority')}</th>
            <th className="num">{t('col.score')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const rec = r.rec;
            const clickable = r.found !== false;
            return (
              <tr
                key={`${r.isdn}-${i}`} data-testid="row" data-isdn={r.isdn}
                className={clickable ? 'clickable' : 'missing'} tabIndex={clickable ? 0 : undefined}
                onClick={clickable ? () => onOpen(r.isdn) : undefined}
                onKeyDown={clickable ? e => {
                  // preventDefault: the same keystroke must not also press a button in the modal it opens.
                  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onOpen(r.isdn); }
                } : undefined}
                aria-label={clickable ? t('lists.openRow', { isdn: r.isdn }) : undefined}
              >
                <td><code>{r.isdn}</code></td>
                {showFound && <td>{r.found ? t('bulk.found') : <span className="neg">{t('bulk.notFound')}</span>}</td>}
                <td><SubscriberType code={rec?.subscriber_type} /></td>
                <td>{rec?.service_type ?? DASH}</td>
                <td className="num">{rec ? money(rec.advance_amount) : DASH}</td>
                <td className="num">{rec ? money(rec.revenue_per_advance) : DASH}</td>
                <td>{rec ? <RiskBadge level={rec.bad_debt_risk} /> : DASH}</td>
                <td className="num">{rec?.cluster_group ?? DASH}</td>
                <td className="num">{rec ? num(rec.arpu_avg_6m, 2) : DASH}</td>
                <td>{rec?.arpu_trend ?? DASH}</td>
                <td>{rec?.priority ? <PriorityBadge priority={rec.priority} /> : DASH}</td>
                <td className="num">{rec ? num(rec.priority_score, 2) : DASH}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Saves text as a file the browser downloads. */
export function download(filename: string, data: Blob) {
  const url = URL.createObjectURL(data);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
