-- retail.sql - the retail app's PostgreSQL schema, and the pipeline's roles.
--
-- Applied by a superuser to an existing, empty database:
--   psql -v ON_ERROR_STOP=1 -d retail -f schemas/postgres/retail.sql
-- Applying it again is harmless (everything is IF NOT EXISTS / OR REPLACE).
-- The tests, the demo, the benchmarks and compose's postgres service
-- (docker-entrypoint-initdb.d) all load this file.
--
-- Exactly-once extraction (Technique A of the incremental-extraction notes):
-- each row carries the 64-bit id of the transaction that last wrote it,
-- `xid xid8 DEFAULT pg_current_xact_id()`, refreshed by a BEFORE UPDATE
-- trigger. Ingestion reads, in one REPEATABLE READ transaction, the rows
-- with lo <= xid < pg_snapshot_xmin(pg_current_snapshot()): every
-- transaction below that bound has finished, so no row below it can appear
-- later. Indexes on (xid, id) make that range scan cheap. The app never
-- sets xid itself.
--
-- `orderstate` holds each order's latest lifecycle status and time, kept by
-- a trigger on ordershistory, which also refuses an event out of order
-- (NEW, then INTRANSIT, then DELIVERED, never back in time). With partial
-- indexes on it, the simulator picks "a random order whose last status is
-- X" by an index probe, without scanning the history. It is a side table,
-- so the rows of `orders` never change and are extracted once.

SET client_min_messages = warning;
BEGIN;

CREATE TABLE IF NOT EXISTS orders (
	orderid     serial PRIMARY KEY,
	ordertime   timestamp NOT NULL,
	branch      varchar(50) NOT NULL,
	xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
);

CREATE TABLE IF NOT EXISTS ordershistory (
	historyid   serial PRIMARY KEY,
	orderid     integer NOT NULL REFERENCES orders (orderid),
	status      varchar(20) NOT NULL
	            CHECK (status IN ('NEW', 'INTRANSIT', 'DELIVERED')),
	updatedat   timestamp NOT NULL,
	xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
);

CREATE TABLE IF NOT EXISTS orderstate (
	orderid     integer PRIMARY KEY REFERENCES orders (orderid),
	laststatus  varchar(20) NOT NULL
	            CHECK (laststatus IN ('NEW', 'INTRANSIT', 'DELIVERED')),
	lastupdate  timestamp NOT NULL
);

-- Incremental extraction: range scans by (xid, id).
CREATE INDEX IF NOT EXISTS orders_xid_idx ON orders (xid, orderid);
CREATE INDEX IF NOT EXISTS ordershistory_xid_idx
	ON ordershistory (xid, historyid);
-- Lifecycle lookups: an order's history, and orders by last status.
CREATE INDEX IF NOT EXISTS ordershistory_orderid_idx
	ON ordershistory (orderid, historyid);
CREATE INDEX IF NOT EXISTS orderstate_new_idx
	ON orderstate (orderid) WHERE laststatus = 'NEW';
CREATE INDEX IF NOT EXISTS orderstate_intransit_idx
	ON orderstate (orderid) WHERE laststatus = 'INTRANSIT';

-- A rewritten row gets the id of the transaction that rewrote it, so the
-- next extraction picks the change up.
CREATE OR REPLACE FUNCTION medallion_touch_xid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.xid := pg_current_xact_id();
	RETURN NEW;
END;
$$;

-- The lifecycle only moves forward: NEW, then INTRANSIT, then DELIVERED,
-- and never back in time. Each history row moves its order's orderstate.
CREATE OR REPLACE FUNCTION medallion_advance_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	previous varchar(20);
BEGIN
	IF NEW.status = 'NEW' THEN
		INSERT INTO orderstate (orderid, laststatus, lastupdate)
			VALUES (NEW.orderid, 'NEW', NEW.updatedat)
			ON CONFLICT (orderid) DO NOTHING;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'order % already has a NEW event',
			    NEW.orderid;
		END IF;
		RETURN NEW;
	END IF;
	previous := CASE NEW.status WHEN 'INTRANSIT' THEN 'NEW'
	    ELSE 'INTRANSIT' END;
	UPDATE orderstate SET laststatus = NEW.status,
		lastupdate = NEW.updatedat
		WHERE orderid = NEW.orderid AND laststatus = previous
		AND lastupdate <= NEW.updatedat;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % cannot become % at %: its last '
		    'status must be %, at or before that time', NEW.orderid,
		    NEW.status, NEW.updatedat, previous;
	END IF;
	RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER orders_touch_xid BEFORE UPDATE ON orders
	FOR EACH ROW EXECUTE FUNCTION medallion_touch_xid();
CREATE OR REPLACE TRIGGER ordershistory_touch_xid BEFORE UPDATE ON ordershistory
	FOR EACH ROW EXECUTE FUNCTION medallion_touch_xid();
-- medallion-retailapp --bulk sets medallion.bulk_load for its own
-- transaction and writes orderstate itself, for COPY speed; it generates
-- only complete, ordered lifecycles (the tests check them).
CREATE OR REPLACE TRIGGER ordershistory_advance BEFORE INSERT ON ordershistory
	FOR EACH ROW
	WHEN (current_setting('medallion.bulk_load', true) IS DISTINCT FROM 'on')
	EXECUTE FUNCTION medallion_advance_status();

-- Wake on new data: `medallion-orchestrator watch` LISTENs on channel
-- medallion_source, and each statement that writes orders or
-- ordershistory NOTIFYs it with its transaction's xid. PostgreSQL delivers
-- a notification at commit and folds equal ones of a transaction into
-- one, so it is one per writing transaction. It only says "now": what a
-- run takes still comes from the xid bookmark, so a notification lost
-- (nobody listening) delays rows, never drops them. Its cost to the
-- app's writes is in README ("Freshness: watch").
CREATE OR REPLACE FUNCTION medallion_notify_source() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('medallion_source', pg_current_xact_id()::text);
	RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER orders_notify AFTER INSERT OR UPDATE ON orders
	FOR EACH STATEMENT EXECUTE FUNCTION medallion_notify_source();
CREATE OR REPLACE TRIGGER ordershistory_notify
	AFTER INSERT OR UPDATE ON ordershistory
	FOR EACH STATEMENT EXECUTE FUNCTION medallion_notify_source();

-- Roles: LOGIN, no password here. Deployments set passwords from files
-- (deploy/postgres-passwords.sh); tests and the demo use socket auth.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'medallion_app')
	THEN
		CREATE ROLE medallion_app LOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles
	    WHERE rolname = 'medallion_pipeline') THEN
		CREATE ROLE medallion_pipeline LOGIN;
	END IF;
END;
$$;

DO $$
BEGIN
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO medallion_app, '
	    'medallion_pipeline', current_database());
END;
$$;
GRANT USAGE ON SCHEMA public TO medallion_app, medallion_pipeline;
REVOKE ALL ON orders, ordershistory, orderstate
	FROM medallion_app, medallion_pipeline;
GRANT SELECT, INSERT, UPDATE ON orders, ordershistory, orderstate
	TO medallion_app;
-- SELECT and UPDATE on a sequence allow reading it and setval(), with
-- which --bulk reserves ids for COPY.
GRANT USAGE, SELECT, UPDATE ON SEQUENCE orders_orderid_seq,
	ordershistory_historyid_seq TO medallion_app;
GRANT SELECT ON orders, ordershistory TO medallion_pipeline;

COMMIT;
