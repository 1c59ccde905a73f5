import { useEffect, useRef, useState } from 'react';
import type { MonthlyArpu } from '../api/types';
import { money, month, num } from '../format';

const COLORS = { call: '#2563eb', sms: '#f59e0b', data: '#10b981', total: '#111827' };

/** Round axis steps: 1, 2, 2.5 or 5 × 10^n, about four of them up to max. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * pow).find(s => s >= raw) ?? 10 * pow;
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

/**
 * Monthly ARPU as stacked bars (call / SMS / data) with the total as a line. Drawn as plain SVG
 * rather than with the chart library: it is on the modal agents open all day, and seven bars
 * cost nothing this way (the library's first render costs more than the lookup itself).
 */
export function ArpuChart({ months, labels }: {
  months: MonthlyArpu[]; labels: { call: string; sms: string; data: string; total: string; axis?: string; month?: string };
}) {
  // The drawing is as wide as its box (not a fixed 640 scaled down), so its 12 px labels stay
  // 12 px on a phone instead of shrinking to 5.
  const box = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(([e]) => { if (e.contentRect.width > 0) setWidth(Math.round(e.contentRect.width)); });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const W = Math.max(300, width), H = 240, L = 64, R = 8, T = 22, B = 40;
  const v = (x: number | null | undefined) => (x && x > 0 ? x : 0);
  const max = Math.max(1, ...months.map(m => Math.max(v(m.arpu_total), v(m.arpu_call) + v(m.arpu_sms) + v(m.arpu_data))));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const y = (val: number) => T + (H - T - B) * (1 - val / top);
  const band = (W - L - R) / months.length;
  const bw = Math.min(56, band * 0.6);
  const cx = (i: number) => L + band * i + band / 2;
  const line = months.map((m, i) => `${i ? 'L' : 'M'}${cx(i).toFixed(1)},${y(v(m.arpu_total)).toFixed(1)}`).join(' ');
  return (
    <figure className="arpu-chart" ref={box}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`${labels.total} — ${labels.axis ?? ''}`} data-testid="arpu-svg">
        {labels.axis && <text x={4} y={12} fontSize="12" fill="#374151" data-testid="arpu-axis-title">{labels.axis}</text>}
        {ticks.map(tk => (
          <g key={tk}>
            <line x1={L} x2={W - R} y1={y(tk)} y2={y(tk)} stroke="#e5e7eb" strokeDasharray={tk ? '3 3' : undefined} />
            <text x={L - 6} y={y(tk) + 4} textAnchor="end" fontSize="12" fill="#4b5563">{num(tk)}</text>
          </g>
        ))}
        {months.map((m, i) => {
          let base = 0;
          const parts = [['call', v(m.arpu_call)], ['sms', v(m.arpu_sms)], ['data', v(m.arpu_data)]] as const;
          return (
            <g key={m.month} className="arpu-bar">
              <title>{`${month(m.month)} — ${labels.call} ${money(m.arpu_call)}, ${labels.sms} ${money(m.arpu_sms)}, ${labels.data} ${money(m.arpu_data)}, ${labels.total} ${money(m.arpu_total)}`}</title>
              {parts.map(([k, val]) => {
                const y0 = y(base), y1 = y(base + val);
                base += val;
                return <rect key={k} x={cx(i) - bw / 2} width={bw} y={y1} height={Math.max(0, y0 - y1)} fill={COLORS[k]} />;
              })}
              <text x={cx(i)} y={H - 22} textAnchor="middle" fontSize="12" fill="#374151">{month(m.month)}</text>
            </g>
          );
        })}
        {labels.month && <text x={L + (W - L - R) / 2} y={H - 4} textAnchor="middle" fontSize="12" fill="#374151">{labels.month}</text>}
        <path d={line} fill="none" stroke={COLORS.total} strokeWidth="2" />
        {months.map((m, i) => <circle key={m.month} cx={cx(i)} cy={y(v(m.arpu_total))} r="3.5" fill="#fff" stroke={COLORS.total} strokeWidth="2" />)}
      </svg>
      <figcaption className="legend">
        {(['call', 'sms', 'data', 'total'] as const).map(k => (
          <span key={k}><i style={{ background: COLORS[k] }} />{labels[k]}</span>
        ))}
      </figcaption>
    </figure>
  );
}
