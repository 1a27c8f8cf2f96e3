// duckdb-query.mjs - run SQL in DuckDB (an independent engine) for tests
// and benchmarks, and print each result row as one JSON line.
//
//   node tests/interop/duckdb-query.mjs "SELECT count(*) AS n FROM read_parquet('x.parquet')"
//
// BIGINT and other values JSON cannot hold exactly are printed as strings;
// timestamps as ISO text. Exits 1 with the error on stderr when SQL fails.
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error('usage: duckdb-query.mjs SQL');
  process.exit(2);
}

function plain(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'object' && typeof value.toString === 'function' &&
      !Array.isArray(value)) return value.toString();
  return value;
}

try {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const reader = await con.runAndReadAll(sql);
  const names = reader.columnNames();
  for (const row of reader.getRows()) {
    const out = {};
    names.forEach((n, i) => { out[n] = plain(row[i]); });
    process.stdout.write(JSON.stringify(out) + '\n');
  }
} catch (e) {
  console.error(`duckdb-query: ${e.message}`);
  process.exit(1);
}
