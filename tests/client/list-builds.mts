// A dashboard's list call through the types openapi-typescript generates from
// `crud openapi` (./api.d.ts): tests/test_client.py compiles it with tsc --strict, then
// runs it against a live server. The @ts-expect-error lines prove the types are precise:
// tsc fails on an unused one, which is what would happen if a field were `unknown`/`any`.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type KojiBuild = components["schemas"]["KojiBuild"];
type CoprBuild = components["schemas"]["CoprBuild"];
declare const process: { argv: string[] };

// Lists also answer text/csv and application/x-ndjson (exports): the JSON media types
// keep `data` the page and `error` the problem.
type Json = "application/json" | "application/problem+json";
const client = createClient<paths, Json>({ baseUrl: process.argv[2] ?? "http://127.0.0.1:8000" });

export async function recentFailures(size: number): Promise<KojiBuild[]> {
  const { data, error } = await client.GET("/api/v1/koji-builds", {
    params: { query: { status__in: ["failure", "error"], order_by: ["-packit_id"], size } },
  });
  if (error !== undefined) throw new Error(`${error.status} ${error.title}: ${error.detail}`);
  return data.items;
}

export async function firstPackage(): Promise<{ name: string; epoch: number } | null> {
  const { data, error } = await client.GET("/api/v1/copr-builds", {
    params: { query: { status: "success", size: 1 } },
  });
  if (error !== undefined) throw new Error(error.detail);
  const built: CoprBuild["built_packages"] = data.items[0]?.built_packages ?? null;
  const first = built?.[0];
  return first === undefined ? null : { name: first.name, epoch: first.epoch };
}

export function precise(build: KojiBuild): string {
  // @ts-expect-error: a status is one of the documented values
  const status: KojiBuild["status"] = "finished";
  // @ts-expect-error: the item has no such field
  void build.no_such_field;
  // @ts-expect-error: built_packages items are typed, their epoch is a number
  const epoch: string | undefined = ({} as CoprBuild).built_packages?.[0]?.epoch;
  void client.GET("/api/v1/koji-builds", {
    // @ts-expect-error: not a declared filter
    params: { query: { statuz: "success" } },
  });
  return `${status}${epoch ?? ""}`;
}

const failures = await recentFailures(3);
const packaged = await firstPackage();
console.log(JSON.stringify({
  failures: failures.map((build) => [build.packit_id, build.status]),
  package: packaged,
}));
