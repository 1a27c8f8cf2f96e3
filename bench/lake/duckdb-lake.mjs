// duckdb-lake.mjs - the DuckDB side of the lake benchmark: writes the same
// ordershistory-shaped rows as lake_bench with the same codec, then reads
// them back, timing each statement inside one DuckDB instance (so Node's
// start-up is not counted). Prints one JSON line.
//   node duckdb-lake.mjs DIR ROWS CODEC [OUR_FILE]
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [dir, rows, codec, ours] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const file = `${dir}/duckdb.parquet`;

async function timed(sql) {
  const t0 = performance.now();
  const r = await con.runAndReadAll(sql);
  return { seconds: (performance.now() - t0) / 1000, rows: r.getRows() };
}

const gen = `SELECT (i + 1)::INTEGER AS historyid, (i // 3 + 1)::INTEGER AS orderid,
  ['NEW','INTRANSIT','DELIVERED'][i % 3 + 1] AS status,
  make_timestamp(1764000000000000 + i * 1000000) AS updatedat,
  (1000 + i // 7)::BIGINT AS xid FROM range(${rows}) t(i)`;
const read = (f) => `SELECT count(*) AS n, sum(historyid) AS h, sum(orderid) AS o,
  sum(length(status)) AS l, max(updatedat::TIMESTAMP) AS u, sum(xid) AS x FROM read_parquet('${f}')`;

const w = await timed(`COPY (${gen}) TO '${file}' (FORMAT parquet, COMPRESSION ${codec})`);
const r = await timed(read(file));
const out = { write_seconds: w.seconds, bytes: statSync(file).size, read_seconds: r.seconds,
  check: r.rows[0].map(String).join('/'), threads: (await timed("SELECT current_setting('threads')")).rows[0][0].toString() };
if (ours) {
  const o = await timed(read(ours));
  out.read_ours_seconds = o.seconds;
  out.check_ours = o.rows[0].map(String).join('/');
}
console.log(JSON.stringify(out));
