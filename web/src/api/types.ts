// The shapes of docs/api.md. Numbers are JSON numbers; optional where the API may omit them.

export type ServiceType = 'EasyCredit' | 'MBFG' | 'ungsanluong';
export type RiskLevel = 'LOW' | 'MEDIUM' | 'HIGH';
export const SERVICE_TYPES: ServiceType[] = ['EasyCredit', 'MBFG', 'ungsanluong'];
export const RISK_LEVELS: RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH'];

export interface Recommendation {
  isdn: string;
  subscriber_type: string;
  service_type: string;
  advance_amount: number;
  revenue_per_advance: number;
  cluster_group: number | null;
  bad_debt_risk: string;
  arpu_avg_6m: number | null;
  arpu_growth_rate: number | null;
  arpu_trend: string | null;
  customer_value_score: number | null;
  advance_readiness_score: number | null;
  recommendation_date: string;
  priority: string;
  priority_score: number | null;
  score?: number;
}

export interface MonthlyArpu {
  month: string;
  arpu_call: number | null;
  arpu_sms: number | null;
  arpu_data: number | null;
  arpu_total: number | null;
}

export interface Profile {
  isdn: string;
  basic: {
    isdn: string; type: string; service: string | null; advance: number | null; revenue: number | null;
    cluster?: number | null; cluster_label?: string | null; profile_date?: string | null;
  };
  arpu_stats: {
    avg: number | null; std: number | null; min: number | null; max: number | null;
    growth_rate: number | null; trend: string | null; first_month?: number | null; last_month?: number | null;
  };
  revenue_breakdown: { call_pct: number | null; sms_pct: number | null; data_pct: number | null; user_type: string | null };
  topup_behavior: {
    frequency: number | null; avg_amount: number | null; ratio: number | null; frequency_class: string | null;
    min_amount?: number | null; max_amount?: number | null;
  };
  risk_assessment: { level: string | null; score: number | null; factors: string[] | null };
  kpi_scores: { customer_value: number | null; advance_readiness: number | null; revenue_potential: number | null };
  monthly_arpu: MonthlyArpu[];
  insights: { classification_reason: string | null; strengths: string[] | null; recommendations: string[] | null };
  updated_at: string | null;
  source: string;
}

export interface ServicePage {
  service_type: string;
  total: number;
  offset: number;
  limit: number;
  items: Recommendation[];
}

export interface CursorPage {
  risk_level?: string;
  cluster?: number;
  total: number;
  next_cursor: string | null;
  items: (Recommendation | { isdn: string })[];
}

export interface BulkResult {
  requested: number;
  found: number;
  not_found: number;
  cached: boolean;
  results: ({ isdn: string; found: true; recommendation: Recommendation } | { isdn: string; found: false })[];
  /** Lines of the CSV that held no ISDN (all of them counted, the first 1,000 listed). */
  rejected_count: number;
  rejected: BulkRejectedLine[];
}

export interface BulkRejectedLine { line: number; value: string; reason: 'not_an_isdn' | 'missing_column' | string }

export interface ServiceAnalytics {
  service_type: string; total_count: number; total_advance: number; total_revenue: number; avg_value_score: number | null;
}
export interface RiskAnalytics { service_type: string; bad_debt_risk: string; count: number; avg_advance: number | null }
export interface ClusterAnalytics {
  cluster_group: number | null; cluster_label: string | null; count: number; avg_advance: number | null;
  avg_customer_value: number | null; avg_advance_readiness: number | null;
}

/** The ut360:meta:stats hash, typed; other total_* fields may appear. */
export interface Stats {
  total_subscribers?: number;
  total_easycredit?: number;
  total_mbfg?: number;
  total_ungsanluong?: number;
  total_low_risk?: number;
  total_medium_risk?: number;
  total_high_risk?: number;
  avg_advance_amount?: number;
  total_revenue_potential?: number;
  last_updated?: string | null;
  data_version?: string | null;
  source?: string;
  [key: string]: unknown;
}

export interface SyncRun {
  id: number; kind: string; trigger: string; started_at: string; finished_at: string | null;
  duration_ms: number | null; keys_written: number; keys_deleted: number; outcome: string; message: string | null;
}

export interface CacheStats { hits: number; misses: number; fallbacks: number; hit_ratio: number }

/** GET /api/v1/segments: a page of a campaign segment, by descending priority_score. */
export interface SegmentPage {
  service_type?: string;
  risk_level?: string;
  cluster?: number;
  min_priority?: number;
  total: number;
  offset: number;
  limit: number;
  source: 'redis' | 'postgres';
  items: Recommendation[];
}

export interface SegmentFilter { service?: string; risk?: string; cluster?: string; min_priority?: string }
