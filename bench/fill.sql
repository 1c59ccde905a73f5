-- Fills the design's tables with :n synthetic subscribers of the generator's shape (used by
-- bench/sync.sh when no generated dataset is loaded). Run: psql -v n=214504 -f bench/fill.sql
-- Deterministic: subscriber i always gets the same values.
\set ON_ERROR_STOP on
TRUNCATE subscriber_monthly_arpu, subscriber_360_profiles, recommendations RESTART IDENTITY CASCADE;

INSERT INTO recommendations (isdn, subscriber_type, service_type, advance_amount, revenue_per_advance,
    cluster_group, bad_debt_risk, arpu_avg_6m, arpu_std_6m, arpu_min_6m, arpu_max_6m, arpu_growth_rate,
    arpu_trend, revenue_call_pct, revenue_sms_pct, revenue_data_pct, user_type, topup_frequency,
    topup_avg_amount, topup_advance_ratio, topup_frequency_class, customer_value_score,
    advance_readiness_score, priority_score, recommendation_date)
SELECT isdn, CASE WHEN i % 10 < 8 THEN 'PRE' ELSE 'POS' END,
       (ARRAY['EasyCredit','EasyCredit','EasyCredit','MBFG','ungsanluong'])[1 + i % 5],
       (ARRAY[10000,15000,20000,25000,30000,50000])[1 + i % 6], (ARRAY[10000,15000,20000,25000,30000,50000])[1 + i % 6] * 0.3,
       i % 4, CASE WHEN i % 7 = 0 THEN 'MEDIUM' WHEN i % 97 = 0 THEN 'HIGH' ELSE 'LOW' END,
       round((1000 + (i * 37) % 90000) / 10.0, 2), round((i * 13) % 5000 / 10.0, 2), 1000, 9000 + i % 1000,
       round(((i * 7) % 2000 - 1000) / 10.0, 2), (ARRAY['Tăng trưởng','Ổn định','Giảm'])[1 + i % 3],
       round((i % 60)::numeric, 2), round((i % 10)::numeric, 2), round((100 - i % 60 - i % 10)::numeric, 2),
       (ARRAY['Heavy Data User','Voice/SMS User','Balanced'])[1 + i % 3], round((i % 20) / 2.0, 2),
       20000 + (i % 30) * 1000, round((i % 500) / 100.0, 4), (ARRAY['Cao','Trung bình','Thấp'])[1 + i % 3],
       cv, ar, round(cv * ar / 100, 2), DATE '2025-10-22'
  FROM (SELECT i, encode(decode(md5('isdn' || i), 'hex'), 'base64') AS isdn,
               (20 + (i * 31) % 80)::numeric AS cv, (10 + (i * 17) % 90)::numeric AS ar
          FROM generate_series(1, :n) AS i) s;

INSERT INTO subscriber_360_profiles (isdn, recommendation_id, subscriber_type, service_type, advance_amount,
    revenue_per_advance, arpu_avg_6m, arpu_std_6m, arpu_min_6m, arpu_max_6m, arpu_first_month, arpu_last_month,
    arpu_growth_rate, arpu_trend, revenue_call_pct, revenue_sms_pct, revenue_data_pct, user_type,
    topup_frequency, topup_avg_amount, topup_min_amount, topup_max_amount, topup_advance_ratio,
    topup_frequency_class, bad_debt_risk, risk_score, risk_factors, customer_value_score,
    advance_readiness_score, revenue_potential, cluster_group, cluster_label, classification_reason,
    strengths, recommendations_text, profile_date)
SELECT r.isdn, r.id, r.subscriber_type, r.service_type, r.advance_amount, r.revenue_per_advance,
       r.arpu_avg_6m, r.arpu_std_6m, r.arpu_min_6m, r.arpu_max_6m, r.arpu_min_6m + 500, r.arpu_max_6m - 500,
       r.arpu_growth_rate, r.arpu_trend, r.revenue_call_pct, r.revenue_sms_pct, r.revenue_data_pct, r.user_type,
       r.topup_frequency, r.topup_avg_amount, 10000, 100000, r.topup_advance_ratio, r.topup_frequency_class,
       r.bad_debt_risk, round((r.id % 100)::numeric, 2),
       CASE WHEN r.bad_debt_risk = 'LOW' THEN jsonb_build_array('ARPU biến động mạnh (độ lệch chuẩn ' || r.arpu_std_6m || '₫ so với trung bình ' || r.arpu_avg_6m || '₫)')
            ELSE jsonb_build_array('ARPU giảm ' || abs(r.arpu_growth_rate) || '% trong 3 tháng gần nhất',
                                   'Tần suất nạp tiền thấp (' || r.topup_frequency || ' lần/tháng)',
                                   'Khoản ứng ' || r.advance_amount::int || '₫ lớn hơn số tiền nạp trung bình (' || r.topup_avg_amount::int || '₫)') END,
       r.customer_value_score, r.advance_readiness_score, r.revenue_per_advance * 4, r.cluster_group,
       (ARRAY['Khách hàng giá trị cao (VIP)','Khách hàng tiềm năng (Growth)','Khách hàng phổ thông (Mass)','Khách hàng rủi ro (Risk)'])[1 + r.cluster_group],
       'Thuộc nhóm ' || (ARRAY['Khách hàng giá trị cao','Khách hàng tiềm năng','Khách hàng phổ thông','Khách hàng rủi ro'])[1 + r.cluster_group]
           || ': ARPU trung bình 6 tháng ' || r.arpu_avg_6m || '₫, xu hướng ' || lower(r.arpu_trend) || ' (' || r.arpu_growth_rate
           || '%), nạp tiền ' || r.topup_frequency || ' lần/tháng (tần suất ' || lower(r.topup_frequency_class) || '), rủi ro nợ xấu '
           || lower(r.bad_debt_risk) || '; phù hợp ứng ' || r.service_type || ' ' || r.advance_amount::int || '₫.',
       jsonb_build_array('Giá trị khách hàng cao (điểm ' || r.customer_value_score || '/100)',
                         'Nạp tiền thường xuyên: ' || r.topup_frequency || ' lần/tháng, trung bình ' || r.topup_avg_amount::int || '₫/lần',
                         'Sử dụng data nhiều (' || r.revenue_data_pct || '% doanh thu), phù hợp gói ứng data'),
       jsonb_build_array('Mời ứng tiền ' || r.service_type || ' ' || r.advance_amount::int || '₫ khi số dư tài khoản chính dưới 5.000₫ (doanh thu dự kiến ' || r.revenue_per_advance::int || '₫/lần ứng)',
                         'Ưu tiên liên hệ trong tuần này qua SMS và ứng dụng My MobiFone',
                         'Theo dõi ARPU tháng tới để điều chỉnh hạn mức ứng'),
       r.recommendation_date
  FROM recommendations r;

INSERT INTO subscriber_monthly_arpu (isdn, data_month, arpu_call, arpu_sms, arpu_data, arpu_total)
SELECT r.isdn, to_char(DATE '2025-03-01' + make_interval(months => m), 'YYYYMM'),
       round(((r.id * (m + 3)) % 3000)::numeric, 2), round(((r.id + m) % 300)::numeric, 2),
       round(((r.id * (m + 7)) % 6000)::numeric, 2),
       round(((r.id * (m + 3)) % 3000 + (r.id + m) % 300 + (r.id * (m + 7)) % 6000)::numeric, 2)
  FROM recommendations r CROSS JOIN generate_series(0, 6) AS m;

INSERT INTO data_loads (data_version, mode, source_dir, source_format, rows_recommendations, rows_profiles,
    rows_monthly_arpu, finished_at, outcome, message)
SELECT 'bench-fill-' || :n, 'snapshot', 'bench/fill.sql', 'csv', (SELECT count(*) FROM recommendations),
       (SELECT count(*) FROM subscriber_360_profiles), (SELECT count(*) FROM subscriber_monthly_arpu), now(),
       'succeeded', 'synthetic data from bench/fill.sql';
ANALYZE;
