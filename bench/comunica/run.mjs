// Run one SPARQL query with Comunica over SPARQL endpoints; print {rows, ms} as JSON.
// Usage: node run.mjs QUERY_FILE URL [URL ...]
import { readFileSync } from "node:fs";
import { QueryEngine } from "@comunica/query-sparql";

const [queryFile, ...urls] = process.argv.slice(2);
const query = readFileSync(queryFile, "utf8");
const engine = new QueryEngine();
const started = performance.now();
try {
  const sources = urls.map((value) => ({ type: "sparql", value }));
  let rows = 0;
  if (/^\s*(PREFIX[^\n]*\n\s*)*ASK/i.test(query)) {
    rows = (await engine.queryBoolean(query, { sources })) ? 1 : 0;
  } else {
    const stream = await engine.queryBindings(query, { sources });
    const all = await stream.toArray();
    rows = all.length;
  }
  console.log(JSON.stringify({ rows, ms: performance.now() - started }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error && error.message || error).slice(0, 300),
    ms: performance.now() - started }));
}
