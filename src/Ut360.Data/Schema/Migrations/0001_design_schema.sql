-- The four tables of the design document, section 3.1, as written there: names, types,
-- constraints and index names are the contract that psql users and the API rely on.

CREATE TABLE recommendations (
    id BIGSERIAL PRIMARY KEY,

    -- Subscriber Info
    isdn VARCHAR(255) NOT NULL UNIQUE,
    subscriber_type VARCHAR(10) NOT NULL,  -- PRE/POS

    -- Recommendation
    service_type VARCHAR(50) NOT NULL,     -- EasyCredit, MBFG, ungsanluong
    advance_amount DECIMAL(12,2) NOT NULL,
    revenue_per_advance DECIMAL(12,2) NOT NULL,

    -- Clustering
    cluster_group INTEGER,

    -- Risk
    bad_debt_risk VARCHAR(20) NOT NULL,    -- LOW, MEDIUM, HIGH

    -- ARPU Stats
    arpu_avg_6m DECIMAL(10,2),
    arpu_std_6m DECIMAL(10,2),
    arpu_min_6m DECIMAL(10,2),
    arpu_max_6m DECIMAL(10,2),
    arpu_growth_rate DECIMAL(10,2),
    arpu_trend VARCHAR(20),                -- Tăng trưởng, Ổn định, Giảm

    -- Revenue Breakdown
    revenue_call_pct DECIMAL(5,2),
    revenue_sms_pct DECIMAL(5,2),
    revenue_data_pct DECIMAL(5,2),
    user_type VARCHAR(50),                 -- Heavy Data User, Voice/SMS User, Balanced

    -- Topup Behavior
    topup_frequency DECIMAL(5,2),
    topup_avg_amount DECIMAL(10,2),
    topup_advance_ratio DECIMAL(10,4),
    topup_frequency_class VARCHAR(20),     -- Cao, Trung bình, Thấp

    -- Scores
    customer_value_score DECIMAL(5,2),
    advance_readiness_score DECIMAL(5,2),

    -- Priority (see docs/decisions.md: customer_value * advance_readiness / 100)
    priority_score DECIMAL(10,2),

    -- Metadata
    recommendation_date DATE NOT NULL,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),

    CONSTRAINT chk_subscriber_type CHECK (subscriber_type IN ('PRE', 'POS')),
    CONSTRAINT chk_service_type CHECK (service_type IN ('EasyCredit', 'MBFG', 'ungsanluong')),
    CONSTRAINT chk_risk CHECK (bad_debt_risk IN ('LOW', 'MEDIUM', 'HIGH'))
);

CREATE INDEX idx_recommendations_isdn ON recommendations(isdn);
CREATE INDEX idx_recommendations_service ON recommendations(service_type);
CREATE INDEX idx_recommendations_risk ON recommendations(bad_debt_risk);
CREATE INDEX idx_recommendations_cluster ON recommendations(cluster_group);
CREATE INDEX idx_recommendations_priority ON recommendations(priority_score DESC);
CREATE INDEX idx_recommendations_subscriber_type ON recommendations(subscriber_type);
CREATE INDEX idx_recommendations_date ON recommendations(recommendation_date);
CREATE INDEX idx_service_risk ON recommendations(service_type, bad_debt_risk);
CREATE INDEX idx_service_priority ON recommendations(service_type, priority_score DESC);

CREATE TABLE subscriber_360_profiles (
    id BIGSERIAL PRIMARY KEY,
    isdn VARCHAR(255) NOT NULL UNIQUE,

    recommendation_id BIGINT REFERENCES recommendations(id),

    subscriber_type VARCHAR(10) NOT NULL,
    service_type VARCHAR(50),
    advance_amount DECIMAL(12,2),
    revenue_per_advance DECIMAL(12,2),

    arpu_avg_6m DECIMAL(10,2),
    arpu_std_6m DECIMAL(10,2),
    arpu_min_6m DECIMAL(10,2),
    arpu_max_6m DECIMAL(10,2),
    arpu_first_month DECIMAL(10,2),
    arpu_last_month DECIMAL(10,2),
    arpu_growth_rate DECIMAL(10,2),
    arpu_trend VARCHAR(20),

    revenue_call_pct DECIMAL(5,2),
    revenue_sms_pct DECIMAL(5,2),
    revenue_data_pct DECIMAL(5,2),
    user_type VARCHAR(50),

    topup_frequency DECIMAL(5,2),
    topup_avg_amount DECIMAL(10,2),
    topup_min_amount DECIMAL(10,2),
    topup_max_amount DECIMAL(10,2),
    topup_advance_ratio DECIMAL(10,4),
    topup_frequency_class VARCHAR(20),

    bad_debt_risk VARCHAR(20),
    risk_score DECIMAL(5,2),
    risk_factors JSONB,

    customer_value_score DECIMAL(5,2),
    advance_readiness_score DECIMAL(5,2),
    revenue_potential DECIMAL(12,2),

    cluster_group INTEGER,
    cluster_label VARCHAR(100),

    classification_reason TEXT,
    strengths JSONB,
    recommendations_text JSONB,

    profile_date DATE NOT NULL,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);

CREATE INDEX idx_360_isdn ON subscriber_360_profiles(isdn);
CREATE INDEX idx_360_recommendation ON subscriber_360_profiles(recommendation_id);
CREATE INDEX idx_360_cluster ON subscriber_360_profiles(cluster_group);

CREATE TABLE subscriber_monthly_arpu (
    id BIGSERIAL PRIMARY KEY,
    isdn VARCHAR(255) NOT NULL,
    data_month VARCHAR(6) NOT NULL,        -- YYYYMM format

    arpu_call DECIMAL(10,2),
    arpu_sms DECIMAL(10,2),
    arpu_data DECIMAL(10,2),
    arpu_total DECIMAL(10,2),

    created_at TIMESTAMP DEFAULT NOW(),

    UNIQUE(isdn, data_month)
);

CREATE INDEX idx_monthly_isdn ON subscriber_monthly_arpu(isdn);
CREATE INDEX idx_monthly_month ON subscriber_monthly_arpu(data_month);
CREATE INDEX idx_monthly_isdn_month ON subscriber_monthly_arpu(isdn, data_month);

CREATE TABLE recommendation_stats (
    id SERIAL PRIMARY KEY,

    dimension_type VARCHAR(50) NOT NULL,   -- service, risk, cluster, date
    dimension_value VARCHAR(100) NOT NULL,

    total_count INTEGER,
    total_advance_amount DECIMAL(15,2),
    total_revenue_potential DECIMAL(15,2),
    avg_customer_value_score DECIMAL(5,2),
    avg_advance_readiness_score DECIMAL(5,2),

    stats_date DATE NOT NULL,
    created_at TIMESTAMP DEFAULT NOW(),

    UNIQUE(dimension_type, dimension_value, stats_date)
);

CREATE INDEX idx_stats_dimension ON recommendation_stats(dimension_type, dimension_value);
CREATE INDEX idx_stats_date ON recommendation_stats(stats_date);
