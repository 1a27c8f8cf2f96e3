-- gold.sql - gold published into PostgreSQL for BI tools (Superset,
-- Metabase): the table serving replaces in one transaction when
-- MEDALLION_GOLD_DSN names this database, a role that writes it and a
-- read-only role for dashboards.
--
--   psql -v ON_ERROR_STOP=1 -d retail -f schemas/postgres/gold.sql
-- Applying it again is harmless. Roles get no password here; deployments
-- set them from files (as deploy/postgres-passwords.sh does).
SET client_min_messages = warning;
BEGIN;

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'medallion_gold')
	THEN
		CREATE ROLE medallion_gold LOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'medallion_bi')
	THEN
		CREATE ROLE medallion_bi LOGIN;
	END IF;
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO medallion_gold, '
	    'medallion_bi', current_database());
END;
$$;

CREATE SCHEMA IF NOT EXISTS gold;

CREATE TABLE IF NOT EXISTS gold.branch_metrics (
	branch             text PRIMARY KEY,
	orders_received    bigint NOT NULL,
	orders_delivered   bigint NOT NULL,
	avg_delivery_hours double precision,   -- NULL: no delivery yet
	p50_delivery_hours double precision,   -- within 0.5%
	p90_delivery_hours double precision,   -- within 0.5%
	first_order_at     timestamp,          -- UTC, as the source stores it
	last_order_at      timestamp,
	silver_version     bigint NOT NULL,    -- the silver version computed from
	generated_at       timestamptz NOT NULL
);

GRANT USAGE ON SCHEMA gold TO medallion_gold, medallion_bi;
GRANT SELECT, INSERT, DELETE ON gold.branch_metrics TO medallion_gold;
GRANT SELECT ON gold.branch_metrics TO medallion_bi;

COMMIT;
