// Loads one page in Debian's chromium (driven by playwright-core) and reports what it saw.
//
//   node browse.mjs '{"chromium": "/usr/bin/chromium", "hosts": {"api.test": "127.0.0.1"},
//                     "url": "http://api.test:8000/docs", "waitFor": "List koji-builds",
//                     "evaluate": "(async () => ...)()"}'
//
// Prints one JSON object: the page's text once `waitFor` shows, the value of `evaluate`,
// console errors, every request to a host not in `hosts` with how it ended (they cannot
// succeed: the page must work without them) and, if the page never got there, why. Name resolution sends
// only `hosts` to their addresses and fails every other name, so nothing reaches the
// network even where a network exists.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const job = JSON.parse(process.argv[2]);
const hosts = Object.keys(job.hosts);
const rules = [...hosts.map((host) => `MAP ${host} ${job.hosts[host]}`), "MAP * ~NOTFOUND"];
const profile = mkdtempSync(join(tmpdir(), "crud-chromium-"));  // an empty --user-data-dir
const report = { text: "", result: null, offHost: {}, errors: [], failure: null };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: job.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         `--host-resolver-rules=${rules.join(", ")}`],
});
try {
  // Watched, not intercepted: with a route installed, Playwright answers CORS preflights
  // itself, and the server's own answer is what is under test. Name resolution fails them.
  // Each off-host request is reported with how it ended: refused by the page's own policy
  // (net::ERR_BLOCKED_BY_CSP) never left the browser; a failed lookup did try.
  const offHost = (request) => {
    const url = new URL(request.url());
    return /^(https?|wss?):$/.test(url.protocol) && !hosts.includes(url.hostname);
  };
  context.on("request", (request) => {
    if (offHost(request)) report.offHost[request.url()] = "pending";
  });
  context.on("requestfailed", (request) => {
    if (offHost(request)) report.offHost[request.url()] = request.failure()?.errorText ?? "failed";
  });
  context.on("requestfinished", (request) => {
    if (offHost(request)) report.offHost[request.url()] = "loaded";
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") report.errors.push(message.text());
  });
  page.on("pageerror", (error) => report.errors.push(String(error)));
  await page.goto(job.url, { waitUntil: "load", timeout: job.timeoutMs ?? 30000 });
  if (job.waitFor) {
    await page.waitForFunction((text) => document.body?.innerText.includes(text), job.waitFor,
                               { timeout: job.timeoutMs ?? 30000 });
  }
  if (job.evaluate) report.result = await page.evaluate(job.evaluate);
  report.text = await page.evaluate(() => document.body?.innerText ?? "");
} catch (error) {
  report.failure = String(error).split("\n")[0];  // the report still says what was asked for
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(report) + "\n");
