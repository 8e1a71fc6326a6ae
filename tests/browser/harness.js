// What the dashboard's browser tests share: headless Debian Chromium
// launched as the machine allows (see /work/shared/NOTES.md), pages whose
// console is kept, and failures that carry that console and the server's
// log.
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

// A page in a fresh context (empty storage) of `viewport`, whose console and
// errors go to `log` (an array).
export async function freshPage(browser, log, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return page;
}

// Runs `fn`; a failure's message gets the last of the page's console and of
// each server's log (`servers`: a function returning [name, vigil] pairs).
export async function withDiagnostics(log, servers, fn) {
  try {
    await fn();
  } catch (err) {
    err.message += `\n--- page console ---\n${log.slice(-40).join('\n')}`;
    for (const [name, s] of servers()) if (s) err.message += `\n--- ${name} ---\n${s.log().slice(-3000)}`;
    throw err;
  }
}
