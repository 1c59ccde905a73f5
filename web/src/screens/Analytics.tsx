import { RiskBadge } from '../components/Badges';
import type { ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api } from '../api/client';
import { RISK_LEVELS, type ClusterAnalytics, type RiskAnalytics, type ServiceAnalytics, type Stats } from '../api/types';
import { Async } from '../components/Status';
import { age, dateTime, money, num, DASH } from '../format';
import { useI18n } from '../i18n';
import { useAsync } from '../useAsync';

const RISK_COLORS: Record<string, string> = { LOW: '#10b981', MEDIUM: '#f59e0b', HIGH: '#ef4444' };
// Axis ticks in words, not letters: vi "4 tỷ", "160 nghìn"; en "4 billion", "160 thousand"
// ("4 T" read as trillion in English, and "N" named nothing).
const compactFmt = { vi: new Intl.NumberFormat('vi-VN', { notation: 'compact', compactDisplay: 'long', maximumFractionDigits: 1 }),
  en: new Intl.NumberFormat('en-US', { notation: 'compact', compactDisplay: 'long', maximumFractionDigits: 1 }) };

export function AnalyticsScreen() {
  const { t } = useI18n();
  const stats = useAsync(signal => api.stats(signal), []);
  const services = useAsync(signal => api.analyticsServices(signal), []);
  const risk = useAsync(signal => api.analyticsRisk(signal), []);
  const clusters = useAsync(signal => api.analyticsClusters(signal), []);
  return (
    <section className="screen" aria-labelledby="an-h">
      <h1 id="an-h">{t('an.title')}</h1>
      <Async state={stats} role="analyst">{s => <Totals stats={s} />}</Async>
      <div className="grid2">
        <section className="card" aria-labelledby="an-svc">
          <h2 id="an-svc">{t('an.byService')}</h2>
          <Async state={services} role="analyst">{rows => <ServiceChart rows={rows} />}</Async>
        </section>
        <section className="card" aria-labelledby="an-risk">
          <h2 id="an-risk">{t('an.riskDist')}</h2>
          <Async state={risk} role="analyst">{rows => <RiskChart rows={rows} />}</Async>
        </section>
      </div>
      <section className="card" aria-labelledby="an-cl">
        <h2 id="an-cl">{t('an.clusters')}</h2>
        <Async state={clusters} role="analyst">{rows => <Clusters rows={rows} />}</Async>
      </section>
    </section>
  );
}

function Stat({ label, value, testid, raw }: { label: string; value: string; testid: string; raw?: unknown }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testid} data-raw={raw === undefined || raw === null ? '' : String(raw)}>{value}</div>
    </div>
  );
}

function n(v: unknown): number | null {
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : null;
}

export function Totals({ stats: s }: { stats: Stats }) {
  const { t, lang } = useI18n();
  const services = [['EasyCredit', 'total_easycredit'], ['MBFG', 'total_mbfg'], ['ungsanluong', 'total_ungsanluong']] as const;
  const risks = [['LOW', 'total_low_risk'], ['MEDIUM', 'total_medium_risk'], ['HIGH', 'total_high_risk']] as const;
  return (
    <section className="card" aria-labelledby="an-tot" data-testid="totals">
      <h2 id="an-tot">{t('an.totals')}</h2>
      <div className="stats">
        <Stat label={t('an.subscribers')} testid="stat-total_subscribers" raw={s.total_subscribers} value={num(n(s.total_subscribers))} />
        <Stat label={t('an.avgAdvance')} testid="stat-avg_advance_amount" raw={s.avg_advance_amount} value={money(n(s.avg_advance_amount))} />
        <Stat label={t('an.revenuePotential')} testid="stat-total_revenue_potential" raw={s.total_revenue_potential} value={money(n(s.total_revenue_potential))} />
        <Stat label={t('an.lastSync')} testid="stat-last_updated" raw={s.last_updated}
          value={s.last_updated ? `${dateTime(s.last_updated)} (${age(s.last_updated, lang)})` : DASH} />
        <Stat label={t('an.dataVersion')} testid="stat-data_version" raw={s.data_version} value={s.data_version ?? DASH} />
      </div>
      <div className="stats">
        <span className="stats-group">{t('an.serviceCounts')}</span>
        {services.map(([label, key]) => <Stat key={key} label={label} testid={`stat-${key}`} raw={s[key]} value={num(n(s[key]))} />)}
      </div>
      <div className="stats">
        <span className="stats-group">{t('an.riskCounts')}</span>
        {risks.filter(([, key]) => s[key] !== undefined || key !== 'total_high_risk')
          .map(([label, key]) => <Stat key={key} label={`${t(`risk.${label}`)} (${label})`} testid={`stat-${key}`} raw={s[key]} value={num(n(s[key]))} />)}
      </div>
    </section>
  );
}

/** A bar chart with one group of bars per service type; the bars are the children. */
function ServiceBars({ data, format, yTitle, children }: { data: object[]; format: (v: number) => string; yTitle: string; children: ReactNode }) {
  const { t, lang } = useI18n();
  return (
    <div className="chart" data-testid="chart">
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 16, left: 16 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="service_type" fontSize={13} label={{ value: t('col.service'), position: 'insideBottom', offset: -8, fontSize: 12 }} />
          <YAxis fontSize={12} width={84} tickFormatter={v => compactFmt[lang].format(v as number)}
            label={{ value: yTitle, angle: -90, position: 'insideLeft', offset: -8, fontSize: 12, style: { textAnchor: 'middle' } }} />
          <Tooltip formatter={v => format(v as number)} />
          <Legend verticalAlign="top" height={30} formatter={v => <span className="legend-text">{v}</span>} />
          {children}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

function ServiceChart({ rows }: { rows: ServiceAnalytics[] }) {
  const { t } = useI18n();
  return (
    <>
      <ServiceBars data={rows} format={money} yTitle={t('an.axisVnd')}>
        <Bar dataKey="total_advance" name={t('an.totalAdvance')} fill="#2563eb" isAnimationActive={false} />
        <Bar dataKey="total_revenue" name={t('an.totalRevenue')} fill="#10b981" isAnimationActive={false} />
      </ServiceBars>
      <div className="table-wrap">
        <table className="table compact" data-testid="an-services">
          <thead><tr><th>{t('col.service')}</th><th className="num">{t('an.count')}</th><th className="num">{t('an.totalAdvance')}</th><th className="num">{t('an.totalRevenue')}</th><th className="num">{t('an.avgValue')}</th></tr></thead>
          <tbody>
            {rows.map(r => (
              <tr key={r.service_type} data-service={r.service_type}>
                <td>{r.service_type}</td><td className="num" data-raw={r.total_count}>{num(r.total_count)}</td>
                <td className="num">{money(r.total_advance)}</td><td className="num">{money(r.total_revenue)}</td>
                <td className="num">{num(r.avg_value_score, 2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function RiskChart({ rows }: { rows: RiskAnalytics[] }) {
  const { t } = useI18n();
  const services = [...new Set(rows.map(r => r.service_type))];
  const levels = RISK_LEVELS.filter(l => rows.some(r => r.bad_debt_risk === l));
  const data = services.map(s => {
    const o: Record<string, string | number> = { service_type: s };
    for (const r of rows.filter(x => x.service_type === s)) o[r.bad_debt_risk] = r.count;
    return o;
  });
  return (
    <>
      <ServiceBars data={data} format={v => num(v)} yTitle={t('an.axisSubscribers')}>
        {levels.map(l => <Bar key={l} dataKey={l} name={`${t(`risk.${l}`)} (${l})`} stackId="r" fill={RISK_COLORS[l]} isAnimationActive={false} />)}
      </ServiceBars>
      <div className="table-wrap">
        <table className="table compact" data-testid="an-risk">
          <thead><tr><th>{t('col.service')}</th><th>{t('col.risk')}</th><th className="num">{t('an.count')}</th><th className="num">{t('an.avgAdvance')}</th></tr></thead>
          <tbody>
            {rows.map(r => (
              <tr key={`${r.service_type}-${r.bad_debt_risk}`}>
                <td>{r.service_type}</td><td><RiskBadge level={r.bad_debt_risk} /></td>
                <td className="num">{num(r.count)}</td><td className="num">{money(r.avg_advance)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Clusters({ rows }: { rows: ClusterAnalytics[] }) {
  const { t, lang } = useI18n();
  const data = rows.map(r => ({ ...r, name: r.cluster_label ? `${r.cluster_group}: ${r.cluster_label}` : String(r.cluster_group ?? DASH) }));
  return (
    <div className="grid2">
      <div className="chart" data-testid="chart">
        <ResponsiveContainer width="100%" height={260}>
          <BarChart data={data} margin={{ top: 8, right: 8, bottom: 16, left: 16 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="cluster_group" fontSize={13} label={{ value: t('col.cluster'), position: 'insideBottom', offset: -8, fontSize: 12 }} />
            <YAxis fontSize={12} width={84} tickFormatter={v => compactFmt[lang].format(v as number)}
              label={{ value: t('an.axisSubscribers'), angle: -90, position: 'insideLeft', offset: -8, fontSize: 12, style: { textAnchor: 'middle' } }} />
            <Tooltip formatter={v => num(v as number)} labelFormatter={(_, p) => (p?.[0]?.payload as { name?: string })?.name ?? ''} />
            <Bar dataKey="count" name={t('an.count')} fill="#6366f1" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <div className="table-wrap">
        <table className="table compact" data-testid="an-clusters">
          <thead><tr><th>{t('col.cluster')}</th><th className="num">{t('an.count')}</th><th className="num">{t('an.avgAdvance')}</th><th className="num">{t('an.avgCv')}</th><th className="num">{t('an.avgAr')}</th></tr></thead>
          <tbody>
            {data.map(r => (
              <tr key={String(r.cluster_group)}>
                <td>{r.name}</td><td className="num">{num(r.count)}</td><td className="num">{money(r.avg_advance)}</td>
                <td className="num">{num(r.avg_customer_value, 2)}</td><td className="num">{num(r.avg_advance_readiness, 2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
