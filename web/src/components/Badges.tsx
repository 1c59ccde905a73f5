import { DASH } from '../format';
import { hasMessage, useI18n, type MessageKey } from '../i18n';

// One colour per meaning, everywhere: good (green), caution (amber), bad (red). A HIGH risk is
// bad and a HIGH priority is good, so they never share a colour. The data's own code (LOW,
// HIGH, succeeded…) stays beside its translated label: it is what exports and the API carry.
const RISK: Record<string, 'good' | 'caution' | 'bad'> = { LOW: 'good', MEDIUM: 'caution', HIGH: 'bad' };
const PRIORITY: Record<string, 'good' | 'caution' | 'bad'> = { HIGH: 'good', MEDIUM: 'caution', LOW: 'bad' };
const OUTCOME: Record<string, 'good' | 'caution' | 'bad' | 'neutral'> = { succeeded: 'good', running: 'caution', failed: 'bad', skipped: 'neutral' };

function Badge({ code, tone, label, kind }: { code: string; tone?: string; label?: string; kind: string }) {
  return (
    <span className={`badge badge-${tone ?? 'neutral'} badge-${kind}-${code.toLowerCase()}`} data-code={code}>
      {label && label !== code ? <>{label} <span className="badge-code">{code}</span></> : code}
    </span>
  );
}

export function RiskBadge({ level }: { level: string | null | undefined }) {
  const { t } = useI18n();
  if (!level) return <>{DASH}</>;
  const key = `risk.${level}` as MessageKey;
  return <Badge kind="risk" code={level} tone={RISK[level]} label={RISK[level] ? t(key) : undefined} />;
}

export function PriorityBadge({ priority }: { priority: string | null | undefined }) {
  const { t } = useI18n();
  if (!priority) return <>{DASH}</>;
  const key = `priority.${priority}` as MessageKey;
  return <Badge kind="priority" code={priority} tone={PRIORITY[priority]} label={PRIORITY[priority] ? t(key) : undefined} />;
}

export function OutcomeBadge({ outcome }: { outcome: string }) {
  const { t } = useI18n();
  const key = `outcome.${outcome}`;
  return <Badge kind="outcome" code={outcome} tone={OUTCOME[outcome]} label={hasMessage(key) ? t(key) : undefined} />;
}

/** Subscriber type: PRE (prepaid) and POS (postpaid) with their translated names. */
export function SubscriberType({ code }: { code: string | null | undefined }) {
  const { t } = useI18n();
  if (!code) return <>{DASH}</>;
  const known = code === 'PRE' || code === 'POS';
  return known ? <span title={t(`subtype.${code}` as MessageKey)}>{t(`subtype.${code}` as MessageKey)} <span className="badge-code">{code}</span></span> : <>{code}</>;
}

/** A code of the data (sync kind full/incremental, trigger api/cli/schedule) with its translated label. */
export function Coded({ prefix, code }: { prefix: 'synckind' | 'trigger'; code: string }) {
  const { t } = useI18n();
  const key = `${prefix}.${code}`;
  return hasMessage(key) ? <>{t(key)} <span className="badge-code">{code}</span></> : <>{code}</>;
}
