// Drives react-admin's REST data providers, unchanged, against a running API and prints
// what they return (tests/test_data_providers.py asserts it against the database).
//
//   node providers.mjs '{"provider": "simple-rest", "apiUrl": "http://127.0.0.1:8000/api/v1",
//                        "calls": [["getList", "koji-builds", {"pagination": ...}], ...]}'
//
// Prints one JSON array, one entry per call: {"data": ..., "total": ...} as the provider
// resolved it, or {"error": message, "status": HTTP status, "body": the problem}. The
// providers use Node's own fetch and Headers, as a browser's.
import jsonServerProvider from "ra-data-json-server";
import simpleRestProvider from "ra-data-simple-rest";

const job = JSON.parse(process.argv[2]);
const providers = { "simple-rest": simpleRestProvider, "json-server": jsonServerProvider };
const provider = providers[job.provider](job.apiUrl);
const results = [];
for (const [method, resource, params] of job.calls) {
  try {
    results.push(await provider[method](resource, params));
  } catch (error) {
    results.push({ error: String(error), status: error.status ?? null, body: error.body ?? null });
  }
}
process.stdout.write(JSON.stringify(results));
