// Glass-to-glass latency as the dashboard sees it (docs/LATENCY.md): a
// stream whose source burns its capture time into every frame
// ("latency_mark"), a page opened with window.vigilMeasureLatency, and the
// tile's player collecting, per displayed frame, capture / header / arrival
// / display times (web/js/latency_mark.js). Shared by
// tests/browser/latency.test.js and bench/agent.mjs.

// The p-th percentile of the finite values, NaN when there are none.
export function pct(values, p) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))];
}

// p50/p95 of each step of a player's samples.
export function summarize(samples, mode) {
  const marked = samples.filter((s) => Number.isFinite(s.captureMs));
  const steps = {
    'server (capture -> header)': marked.map((s) => s.headerMs - s.captureMs),
    'network (header -> arrival)': samples.map((s) => s.arrivalMs - s.headerMs),
    'receive -> display': samples.map((s) => s.displayMs - s.arrivalMs),
  };
  if (mode === 'webcodecs') {
    steps['  of which decode (arrival -> output)'] = samples.map((s) => s.outputMs - s.arrivalMs);
    steps['  of which draw (output -> drawn)'] = samples.map((s) => s.displayMs - s.outputMs);
  }
  steps['glass to glass (capture -> display)'] = marked.map((s) => s.displayMs - s.captureMs);
  const out = { mode, frames: samples.length, marks_read: marked.length, steps: {} };
  for (const [k, v] of Object.entries(steps)) out.steps[k] = { p50: pct(v, 50), p95: pct(v, 95) };
  return out;
}

// Collects the tile of `stream` for ms milliseconds; the page must be in
// `mode` (the tile's data-mode says so).
export async function collect(page, stream, mode, ms) {
  await page.evaluate((id) => { window.vigil.tiles.get(id).player.samples = []; }, stream);
  await page.waitForTimeout(ms);
  const samples = await page.evaluate((id) => window.vigil.tiles.get(id).player.samples.slice(), stream);
  const got = await page.$eval(`.tile[data-stream="${stream}"]`, (t) => t.dataset.mode);
  if (got !== mode) throw new Error(`the tile of ${stream} is in ${got} mode, not ${mode}`);
  return summarize(samples, mode);
}

// Lines of a summary table for the console.
export function table(results) {
  const rows = [];
  for (const r of results) {
    rows.push(`${r.mode}: ${r.frames} frames, capture time read from ${r.marks_read}`);
    for (const [k, v] of Object.entries(r.steps)) rows.push(`  ${k.padEnd(38)} p50 ${v.p50.toFixed(1).padStart(7)} ms   p95 ${v.p95.toFixed(1).padStart(7)} ms`);
  }
  return rows.join('\n');
}
