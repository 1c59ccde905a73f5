import type { Profile, Recommendation } from './api/types';

export const ISDN = '++/hZFPrCDRre55vsZqqxQ==';

export const recommendation: Recommendation = {
  isdn: ISDN, subscriber_type: 'PRE', service_type: 'EasyCredit', advance_amount: 25000, revenue_per_advance: 7500,
  cluster_group: 1, bad_debt_risk: 'LOW', arpu_avg_6m: 2757.5, arpu_growth_rate: -56.7, arpu_trend: 'Giảm',
  customer_value_score: 70, advance_readiness_score: 90, recommendation_date: '2025-10-22', priority: 'HIGH', priority_score: 63,
};

export const profile: Profile = {
  isdn: ISDN,
  basic: { isdn: ISDN, type: 'PRE', service: 'EasyCredit', advance: 25000, revenue: 7500, cluster: 1, cluster_label: 'Khách hàng ổn định', profile_date: '2025-10-22' },
  arpu_stats: { avg: 2757.5, std: 1234.5, min: 1000, max: 5000, growth_rate: -56.7, trend: 'Giảm', first_month: 5000, last_month: 2165 },
  revenue_breakdown: { call_pct: 45.5, sms_pct: 4.5, data_pct: 50, user_type: 'Balanced' },
  topup_behavior: { frequency: 3.5, avg_amount: 20000, ratio: 0.8, frequency_class: 'Cao', min_amount: 10000, max_amount: 50000 },
  risk_assessment: { level: 'LOW', score: 12.5, factors: ['ARPU giảm mạnh'] },
  kpi_scores: { customer_value: 70, advance_readiness: 90, revenue_potential: 7500 },
  monthly_arpu: [
    { month: '202503', arpu_call: 2000, arpu_sms: 500, arpu_data: 2500, arpu_total: 5000 },
    { month: '202504', arpu_call: 1000, arpu_sms: 165, arpu_data: 1000, arpu_total: 2165 },
  ],
  insights: { classification_reason: 'Nạp tiền đều đặn', strengths: ['Nạp thường xuyên'], recommendations: ['Ưu tiên EasyCredit'] },
  updated_at: '2025-10-22T10:30:00Z',
  source: 'redis',
};
