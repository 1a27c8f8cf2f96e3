// duckdb-lake.mjs - the DuckDB side of the lake benchmark: writes the same
// ordershistory-shaped rows as lake_bench with the same codec, then reads
// them back, timing each statement inside one DuckDB instance (so Node's
// start-up is not counted). With OUR_FILE, it also rewrites its rows with
// updatedat as TIMESTAMPTZ, the type of ours (an instant: Parquet's
// isAdjustedToUTC), then reads its two files and ours in turns, READS
// times each (default 5), keeping each one's fastest read: DuckDB's own
// TIMESTAMPTZ file against ours is how fast other engines read our
// layout, same rows, same types, same query. (A query casting
// updatedat::TIMESTAMP pays a time zone conversion per row on a
// TIMESTAMPTZ, whoever wrote the file, and nothing on a naive one: that,
// not the layout, made DuckDB read our files 7x slower in such a query.)
// Prints one JSON line.
//   node duckdb-lake.mjs DIR ROWS CODEC [OUR_FILE [READS]]
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [dir, rows, codec, ours, reads = '5'] = process.argv.slice(2);
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
// epoch_us of the max, not max of a cast: one conversion, not one a row.
const read = (f) => `SELECT count(*) AS n, sum(historyid) AS h, sum(orderid) AS o,
  sum(length(status)) AS l, epoch_us(max(updatedat)) AS u, sum(xid) AS x FROM read_parquet('${f}')`;

const w = await timed(`COPY (${gen}) TO '${file}' (FORMAT parquet, COMPRESSION ${codec})`);
const fastest = (a, b) => (b === undefined || a.seconds < b.seconds ? a : b);
const tzfile = `${dir}/duckdb-tz.parquet`;
if (ours)
  await con.run(`COPY (SELECT * REPLACE (updatedat::TIMESTAMPTZ AS updatedat) FROM read_parquet('${file}'))
    TO '${tzfile}' (FORMAT parquet, COMPRESSION ${codec})`);
let r = await timed(read(file)), o, t;
for (let i = 1; ours && i <= Number(reads); i++) {
  o = fastest(await timed(read(ours)), o);
  t = fastest(await timed(read(tzfile)), t);
  r = fastest(await timed(read(file)), r);
}
const out = { write_seconds: w.seconds, bytes: statSync(file).size, read_seconds: r.seconds,
  check: r.rows[0].map(String).join('/'), threads: (await timed("SELECT current_setting('threads')")).rows[0][0].toString() };
if (ours) {
  out.read_ours_seconds = o.seconds;
  out.check_ours = o.rows[0].map(String).join('/');
  out.read_tz_seconds = t.seconds;
  out.check_tz = t.rows[0].map(String).join('/');
  const meta = (f) => `SELECT count(DISTINCT row_group_id) AS g, max(row_group_num_rows) AS r FROM parquet_metadata('${f}')`;
  const [mo, md] = [await timed(meta(ours)), await timed(meta(file))];
  out.row_groups_ours = mo.rows[0].map(String).join('/');
  out.row_groups_duckdb = md.rows[0].map(String).join('/');
}
console.log(JSON.stringify(out));
