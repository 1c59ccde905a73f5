import { PriorityBadge, RiskBadge, SubscriberType } from './Badges';
import { useEffect, useRef, type ReactNode, type RefObject } from 'react';
import { useModal } from './useModal';
import { api, ApiError } from '../api/client';
import type { Profile, Recommendation } from '../api/types';
import { age, dateTime, date, growth, money, month, num, pct, DASH } from '../format';
import { useI18n } from '../i18n';
import { useAsync } from '../useAsync';
import { ArpuChart } from './ArpuChart';
import { ErrorBox, Loading } from './Status';

/** Who to show: an encrypted ISDN, or a phone number the API encrypts. */
export type SubscriberRef = { isdn: string } | { msisdn: string };

interface Loaded { profile: Profile; rec: Recommendation | null }

async function load360(ref: SubscriberRef, signal: AbortSignal): Promise<Loaded> {
  // Both calls at once: the modal waits for the slower one, not for the sum.
  const [profile, rec] = await Promise.allSettled('isdn' in ref
    ? [api.profile(ref.isdn, signal), api.recommendation(ref.isdn, signal)]
    : [api.profileByMsisdn(ref.msisdn, signal), api.recommendationByMsisdn(ref.msisdn, signal)]);
  if (profile.status === 'rejected') throw profile.reason;
  // A profile without its recommendation still says much; any other failure is worth showing.
  if (rec.status === 'rejected' && !(rec.reason instanceof ApiError && rec.reason.kind === 'notFound')) throw rec.reason;
  return { profile: profile.value as Profile, rec: rec.status === 'fulfilled' ? rec.value as Recommendation : null };
}

export function Customer360Modal({ subscriber, onClose, startedAt, returnFocusTo, typed }: {
  subscriber: SubscriberRef; onClose: () => void; startedAt?: number; returnFocusTo?: RefObject<HTMLElement | null>;
  /** What the user typed (a phone number as written), shown beside the ISDN it found. */
  typed?: string;
}) {
  const { t } = useI18n();
  const key = 'isdn' in subscriber ? `i:${subscriber.isdn}` : `m:${subscriber.msisdn}`;
  const state = useAsync(signal => load360(subscriber, signal), [key]);
  const dialogRef = useRef<HTMLElement>(null);
  useModal(dialogRef, onClose, { returnTo: returnFocusTo });

  const ready = state.data !== undefined && !state.loading;
  useEffect(() => {
    // The time from the search to the first frame painted with the data: a figure for the
    // operators (data-elapsed-ms), read by the end-to-end run.
    if (!ready || startedAt === undefined) return;
    const id = requestAnimationFrame(() => {
      if (dialogRef.current) dialogRef.current.dataset.elapsedMs = String(Math.round(performance.now() - startedAt));
    });
    return () => cancelAnimationFrame(id);
  }, [ready, startedAt]);

  const notFound = state.error instanceof ApiError && state.error.kind === 'notFound';
  const label = 'isdn' in subscriber ? subscriber.isdn : subscriber.msisdn;
  return (
    <div className="overlay" role="presentation" onMouseDown={e => { if (e.target === e.currentTarget) onClose(); }}>
      <section
        ref={dialogRef} className="dialog modal360" role="dialog" aria-modal="true" aria-labelledby="c360-title" tabIndex={-1}
        data-testid="c360-modal" data-state={ready ? 'ready' : state.error !== undefined ? 'error' : 'loading'}
      >
        <header className="modal-head">
          <div>
            <h2 id="c360-title">{t('c360.modalTitle')} <code data-testid="c360-isdn">{state.data?.profile.isdn ?? label}</code></h2>
            {'msisdn' in subscriber && (
              <p className="muted modal-sub" data-testid="c360-phone" data-msisdn={subscriber.msisdn}>
                {t('c360.phoneSearched', { phone: typed?.trim() || subscriber.msisdn, msisdn: subscriber.msisdn })}
              </p>
            )}
          </div>
          <button type="button" className="secondary modal-close" onClick={onClose} aria-label={t('common.close')} data-testid="c360-close">✕</button>
        </header>
        {state.error !== undefined && !state.loading
          ? notFound
            ? <div className="error" role="alert" data-testid="error" data-kind="notFound"><p>{t('c360.notFound', { q: label })}</p></div>
            : <ErrorBox error={state.error} onRetry={state.reload} role="lookup" />
          : state.data === undefined
            ? <Loading />
            : <ProfileView profile={state.data.profile} rec={state.data.rec} />}
      </section>
    </div>
  );
}

function Field({ label, value, testid, raw }: { label: string; value: ReactNode; testid: string; raw?: unknown }) {
  return (
    <div className="field">
      <dt>{label}</dt>
      <dd data-testid={testid} data-raw={raw === undefined || raw === null ? '' : String(raw)}>{value}</dd>
    </div>
  );
}

function List({ items, testid }: { items: string[] | null | undefined; testid: string }) {
  if (!items || items.length === 0) return <p className="muted">{DASH}</p>;
  return <ul data-testid={testid}>{items.map((s, i) => <li key={i}>{s}</li>)}</ul>;
}

export function ProfileView({ profile: p, rec }: { profile: Profile; rec: Recommendation | null }) {
  const { t, lang } = useI18n();
  const months = p.monthly_arpu.map(m => ({ ...m, label: month(m.month) }));
  const service = rec?.service_type ?? p.basic.service;
  const advance = rec?.advance_amount ?? p.basic.advance;
  const revenue = rec?.revenue_per_advance ?? p.basic.revenue;
  return (
    <div className="c360-body">
      <section className="card c360-rec" aria-labelledby="rec-h">
        <h3 id="rec-h">{t('c360.recommendation')}</h3>
        <dl className="fields fields-wide">
          <Field label={t('c360.service')} testid="c360-service" raw={service} value={service ?? DASH} />
          <Field label={t('c360.advance')} testid="c360-advance" raw={advance} value={<strong>{money(advance)}</strong>} />
          <Field label={t('c360.revenue')} testid="c360-revenue" raw={revenue} value={money(revenue)} />
          <Field label={t('c360.priority')} testid="c360-priority" raw={rec?.priority} value={<PriorityBadge priority={rec?.priority} />} />
          <Field label={t('c360.priorityScore')} testid="c360-priority-score" raw={rec?.priority_score} value={num(rec?.priority_score, 2)} />
          <Field label={t('c360.subType')} testid="c360-subtype" raw={p.basic.type} value={<SubscriberType code={p.basic.type} />} />
          <Field label={t('c360.recDate')} testid="c360-rec-date" raw={rec?.recommendation_date} value={date(rec?.recommendation_date)} />
        </dl>
      </section>

      <section className="card" aria-labelledby="kpi-h">
        <h3 id="kpi-h">{t('c360.kpi')}</h3>
        <dl className="fields">
          <Field label={t('c360.customerValue')} testid="c360-cv" raw={p.kpi_scores.customer_value} value={<Score v={p.kpi_scores.customer_value} />} />
          <Field label={t('c360.readiness')} testid="c360-ar" raw={p.kpi_scores.advance_readiness} value={<Score v={p.kpi_scores.advance_readiness} />} />
          <Field label={t('c360.revenuePotential')} testid="c360-rp" raw={p.kpi_scores.revenue_potential} value={money(p.kpi_scores.revenue_potential)} />
        </dl>
      </section>

      <section className="card" aria-labelledby="risk-h">
        <h3 id="risk-h">{t('c360.risk')}</h3>
        <dl className="fields">
          <Field label={t('c360.riskLevel')} testid="c360-risk-level" raw={p.risk_assessment.level} value={<RiskBadge level={p.risk_assessment.level} />} />
          <Field label={t('c360.riskScore')} testid="c360-risk-score" raw={p.risk_assessment.score} value={num(p.risk_assessment.score, 2)} />
        </dl>
        <h4>{t('c360.riskFactors')}</h4>
        <List items={p.risk_assessment.factors} testid="c360-risk-factors" />
      </section>

      <section className="card" aria-labelledby="cl-h">
        <h3 id="cl-h">{t('c360.cluster')}</h3>
        <p className="cluster" data-testid="c360-cluster" data-raw={p.basic.cluster ?? rec?.cluster_group ?? ''}>
          <span className="cluster-id">{p.basic.cluster ?? rec?.cluster_group ?? DASH}</span> {p.basic.cluster_label ?? ''}
        </p>
      </section>

      <section className="card c360-arpu" aria-labelledby="arpu-h">
        <h3 id="arpu-h">{t('c360.arpu')}</h3>
        <dl className="fields fields-wide">
          <Field label={t('c360.arpuAvg')} testid="c360-arpu-avg" raw={p.arpu_stats.avg} value={money(p.arpu_stats.avg)} />
          <Field label={t('c360.trend')} testid="c360-trend" raw={p.arpu_stats.trend} value={p.arpu_stats.trend ?? DASH} />
          <Field label={t('c360.growth')} testid="c360-growth" raw={p.arpu_stats.growth_rate}
            value={<span className={(p.arpu_stats.growth_rate ?? 0) < 0 ? 'neg' : 'pos'}>{growth(p.arpu_stats.growth_rate)}</span>} />
          <Field label={t('c360.minMax')} testid="c360-arpu-minmax" value={`${money(p.arpu_stats.min)} / ${money(p.arpu_stats.max)}`} />
        </dl>
        {months.length > 0 && (
          <div className="chart" data-testid="c360-arpu-chart">
            <ArpuChart months={p.monthly_arpu}
              labels={{ call: t('c360.call'), sms: t('c360.sms'), data: t('c360.data'), total: t('c360.totalArpu'), axis: t('an.axisArpu'), month: t('an.axisMonth') }} />
          </div>
        )}
        <details className="months">
          <summary>{months.length} × {t('c360.arpu')}</summary>
          <table className="table compact">
            <thead><tr><th>#</th><th>{t('c360.call')}</th><th>{t('c360.sms')}</th><th>{t('c360.data')}</th><th>{t('c360.totalArpu')}</th></tr></thead>
            <tbody>
              {months.map(m => (
                <tr key={m.month} data-testid="c360-month-row" data-month={m.month}>
                  <td>{m.label}</td><td className="num">{num(m.arpu_call, 2)}</td><td className="num">{num(m.arpu_sms, 2)}</td>
                  <td className="num">{num(m.arpu_data, 2)}</td><td className="num" data-testid="c360-month-total" data-raw={m.arpu_total ?? ''}>{num(m.arpu_total, 2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </section>

      <section className="card" aria-labelledby="rb-h">
        <h3 id="rb-h">{t('c360.breakdown')}</h3>
        <Shares call={p.revenue_breakdown.call_pct} sms={p.revenue_breakdown.sms_pct} data={p.revenue_breakdown.data_pct} />
        <dl className="fields">
          <Field label={t('c360.call')} testid="c360-call-pct" raw={p.revenue_breakdown.call_pct} value={pct(p.revenue_breakdown.call_pct)} />
          <Field label={t('c360.sms')} testid="c360-sms-pct" raw={p.revenue_breakdown.sms_pct} value={pct(p.revenue_breakdown.sms_pct)} />
          <Field label={t('c360.data')} testid="c360-data-pct" raw={p.revenue_breakdown.data_pct} value={pct(p.revenue_breakdown.data_pct)} />
          <Field label={t('c360.userType')} testid="c360-user-type" raw={p.revenue_breakdown.user_type} value={p.revenue_breakdown.user_type ?? DASH} />
        </dl>
      </section>

      <section className="card" aria-labelledby="tu-h">
        <h3 id="tu-h">{t('c360.topup')}</h3>
        <dl className="fields">
          <Field label={t('c360.topupFreq')} testid="c360-topup-freq" raw={p.topup_behavior.frequency} value={num(p.topup_behavior.frequency, 2)} />
          <Field label={t('c360.topupAvg')} testid="c360-topup-avg" raw={p.topup_behavior.avg_amount} value={money(p.topup_behavior.avg_amount)} />
          <Field label={t('c360.topupRange')} testid="c360-topup-range" value={`${money(p.topup_behavior.min_amount)} / ${money(p.topup_behavior.max_amount)}`} />
          <Field label={t('c360.topupRatio')} testid="c360-topup-ratio" raw={p.topup_behavior.ratio} value={num(p.topup_behavior.ratio, 4)} />
          <Field label={t('c360.topupClass')} testid="c360-topup-class" raw={p.topup_behavior.frequency_class} value={p.topup_behavior.frequency_class ?? DASH} />
        </dl>
      </section>

      <section className="card c360-insights" aria-labelledby="in-h">
        <h3 id="in-h">{t('c360.insights')}</h3>
        <h4>{t('c360.reason')}</h4>
        <p data-testid="c360-reason">{p.insights.classification_reason ?? DASH}</p>
        <div className="two-col">
          <div><h4>{t('c360.strengths')}</h4><List items={p.insights.strengths} testid="c360-strengths" /></div>
          <div><h4>{t('c360.advice')}</h4><List items={p.insights.recommendations} testid="c360-advice" /></div>
        </div>
      </section>

      <footer className="c360-meta muted">
        <span>{t('c360.source')}: <strong data-testid="c360-source" data-raw={p.source}>{p.source === 'postgres' ? 'PostgreSQL' : p.source === 'redis' ? 'Redis' : p.source}</strong></span>
        <span>{t('c360.updated')}: <span data-testid="c360-updated" data-raw={p.updated_at ?? ''}>{dateTime(p.updated_at)} ({age(p.updated_at, lang)})</span></span>
        {p.basic.profile_date && <span>{t('c360.profileDate')}: {date(p.basic.profile_date)}</span>}
      </footer>
    </div>
  );
}

function Score({ v }: { v: number | null | undefined }) {
  const w = Math.max(0, Math.min(100, v ?? 0));
  return (
    <span className="score">
      <span className="score-num">{num(v, 2)}</span>
      <span className="meter" aria-hidden="true"><span style={{ width: `${w}%` }} /></span>
    </span>
  );
}

function Shares({ call, sms, data }: { call: number | null; sms: number | null; data: number | null }) {
  const parts = [['call', call], ['sms', sms], ['data', data]] as const;
  return (
    <div className="shares" aria-hidden="true">
      {parts.map(([k, v]) => <span key={k} className={`share share-${k}`} style={{ width: `${Math.max(0, v ?? 0)}%` }} />)}
    </div>
  );
}
