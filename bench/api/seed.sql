-- A benchmark dataset of the design's size (214,504 subscribers: 142,000 EasyCredit,
-- 45,000 MBFG, 27,504 ungsanluong; 180,000 LOW and 34,504 MEDIUM risk; clusters 0-3; six months
-- of ARPU each), for when the generated default dataset is not loaded. ISDNs are the MSISDNs
-- 84900000001… encrypted exactly as IsdnCipher does (AES-128-ECB, PKCS#7, base64, demo key),
-- so by-msisdn lookups work. Deterministic: permutations by multiplication modulo N.
-- Run on an empty, migrated database: psql -v ON_ERROR_STOP=1 -f bench/api/seed.sql
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TEMP TABLE s AS
SELECT i,
       encode(encrypt(convert_to('849' || lpad(i::text, 8, '0'), 'UTF8'),
                      decode('5554333630446576656c6f704b657921', 'hex'), 'aes-ecb/pad:pkcs'), 'base64') AS isdn,
       (i * 104729::bigint) % 214504 AS p,
       (i * 7919::bigint) % 214504 AS q
  FROM generate_series(1, 214504) AS i;

INSERT INTO recommendations (isdn, subscriber_type, service_type, advance_amount, revenue_per_advance, cluster_group,
    bad_debt_risk, arpu_avg_6m, arpu_std_6m, arpu_min_6m, arpu_max_6m, arpu_growth_rate, arpu_trend,
    revenue_call_pct, revenue_sms_pct, revenue_data_pct, user_type, topup_frequency, topup_avg_amount,
    topup_advance_ratio, topup_frequency_class, customer_value_score, advance_readiness_score, priority_score, recommendation_date)
SELECT isdn,
       CASE WHEN i % 10 = 0 THEN 'POS' ELSE 'PRE' END,
       CASE WHEN q < 142000 THEN 'EasyCredit' WHEN q < 187000 THEN 'MBFG' ELSE 'ungsanluong' END,
       (10000 + 5000 * (i % 5))::numeric, (3000 + 1500 * (i % 5))::numeric,
       ((i * 31 + p) % 4)::int,
       CASE WHEN p < 180000 THEN 'LOW' ELSE 'MEDIUM' END,
       2000 + (i % 5000), 500 + (i % 700), 1000 + (i % 900), 3000 + (i % 6000), -60 + (i % 12000) / 100.0,
       (ARRAY['Tăng trưởng', 'Ổn định', 'Giảm'])[1 + i % 3],
       30 + (i % 40), 5 + (i % 10), 65 - (i % 40) - (i % 10),
       (ARRAY['Heavy Data User', 'Voice/SMS User', 'Balanced'])[1 + i % 3],
       1 + (i % 9), 20000 + 1000 * (i % 30), (i % 1000) / 1000.0,
       (ARRAY['Cao', 'Trung bình', 'Thấp'])[1 + i % 3],
       20 + (i * 37 % 8000) / 100.0, 10 + (i * 53 % 9000) / 100.0,
       round((20 + (i * 37 % 8000) / 100.0) * (10 + (i * 53 % 9000) / 100.0) / 100, 2),
       DATE '2025-10-22'
  FROM s;

INSERT INTO subscriber_360_profiles (isdn, recommendation_id, subscriber_type, service_type, advance_amount, revenue_per_advance,
    arpu_avg_6m, arpu_std_6m, arpu_min_6m, arpu_max_6m, arpu_first_month, arpu_last_month, arpu_growth_rate, arpu_trend,
    revenue_call_pct, revenue_sms_pct, revenue_data_pct, user_type, topup_frequency, topup_avg_amount, topup_min_amount,
    topup_max_amount, topup_advance_ratio, topup_frequency_class, bad_debt_risk, risk_score, risk_factors,
    customer_value_score, advance_readiness_score, revenue_potential, cluster_group, cluster_label,
    classification_reason, strengths, recommendations_text, profile_date)
SELECT r.isdn, r.id, r.subscriber_type, r.service_type, r.advance_amount, r.revenue_per_advance,
       r.arpu_avg_6m, r.arpu_std_6m, r.arpu_min_6m, r.arpu_max_6m, r.arpu_min_6m, r.arpu_max_6m, r.arpu_growth_rate, r.arpu_trend,
       r.revenue_call_pct, r.revenue_sms_pct, r.revenue_data_pct, r.user_type, r.topup_frequency, r.topup_avg_amount,
       10000, 100000, r.topup_advance_ratio, r.topup_frequency_class, r.bad_debt_risk, 10 + (r.id % 60),
       '["ARPU giảm trong 3 tháng gần nhất", "Tần suất nạp tiền thấp"]'::jsonb,
       r.customer_value_score, r.advance_readiness_score, r.revenue_per_advance * 4, r.cluster_group,
       (ARRAY['Khách hàng giá trị cao', 'Khách hàng ổn định', 'Khách hàng tiềm năng', 'Khách hàng rủi ro'])[1 + r.cluster_group],
       'ARPU ổn định, nạp tiền đều đặn', '["Nạp tiền đều đặn", "Sử dụng data cao"]'::jsonb,
       '["Đề xuất EasyCredit 25.000đ", "Theo dõi ARPU hàng tháng"]'::jsonb, DATE '2025-10-22'
  FROM recommendations r;

INSERT INTO subscriber_monthly_arpu (isdn, data_month, arpu_call, arpu_sms, arpu_data, arpu_total)
SELECT r.isdn, m.month, 1000 + (r.id % 900), 100 + (r.id % 90), 1500 + (r.id % 2000),
       2600 + (r.id % 900) + (r.id % 90) + (r.id % 2000)
  FROM recommendations r
 CROSS JOIN (VALUES ('202505'), ('202506'), ('202507'), ('202508'), ('202509'), ('202510')) AS m(month);

INSERT INTO recommendation_stats (dimension_type, dimension_value, total_count, total_advance_amount, total_revenue_potential,
    avg_customer_value_score, avg_advance_readiness_score, stats_date)
SELECT 'service', service_type, count(*), sum(advance_amount), sum(revenue_per_advance), avg(customer_value_score), avg(advance_readiness_score), DATE '2025-10-22'
  FROM recommendations GROUP BY service_type
UNION ALL
SELECT 'risk', bad_debt_risk, count(*), sum(advance_amount), sum(revenue_per_advance), avg(customer_value_score), avg(advance_readiness_score), DATE '2025-10-22'
  FROM recommendations GROUP BY bad_debt_risk;

ANALYZE;
