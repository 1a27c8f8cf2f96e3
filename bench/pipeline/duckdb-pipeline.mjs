// duckdb-pipeline.mjs - DuckDB doing silver + gold's work on the same
// bronze Parquet files: join, keep NEW and DELIVERED, write silver as
// Parquet with ZSTD, aggregate per branch, write the gold CSV. Prints the
// seconds in one JSON line (Node's start-up not counted).
//   node duckdb-pipeline.mjs ORDERS_FILES HISTORY_FILES OUT_DIR
// (files as comma-separated lists)
import { DuckDBInstance } from '@duckdb/node-api';

const [orders, history, out] = process.argv.slice(2);
const list = (s) => '[' + s.split(',').map((f) => `'${f}'`).join(',') + ']';
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const t0 = performance.now();
await con.run(`COPY (SELECT o.orderid, o.ordertime, o.branch, h.historyid, h.status, h.updatedat
  FROM read_parquet(${list(history)}, hive_partitioning=false) h
  JOIN read_parquet(${list(orders)}, hive_partitioning=false) o USING (orderid)
  WHERE h.status IN ('NEW', 'DELIVERED'))
  TO '${out}/silver.parquet' (FORMAT parquet, COMPRESSION zstd)`);
const t1 = performance.now();
await con.run(`COPY (SELECT branch,
  count(*) FILTER (WHERE status = 'NEW') AS orders_received,
  count(*) FILTER (WHERE status = 'DELIVERED') AS orders_delivered,
  avg(epoch(updatedat) - epoch(ordertime)) FILTER (WHERE status = 'DELIVERED') / 3600 AS avg_delivery_hours,
  quantile_disc((epoch(updatedat) - epoch(ordertime)) / 3600, 0.5) FILTER (WHERE status = 'DELIVERED') AS p50,
  quantile_disc((epoch(updatedat) - epoch(ordertime)) / 3600, 0.9) FILTER (WHERE status = 'DELIVERED') AS p90,
  min(ordertime) FILTER (WHERE status = 'NEW') AS first_order_at,
  max(ordertime) FILTER (WHERE status = 'NEW') AS last_order_at
  FROM read_parquet('${out}/silver.parquet') GROUP BY branch ORDER BY branch)
  TO '${out}/gold.csv' (HEADER)`);
const t2 = performance.now();
console.log(JSON.stringify({ silver_seconds: (t1 - t0) / 1000, gold_seconds: (t2 - t1) / 1000,
  seconds: (t2 - t0) / 1000 }));
