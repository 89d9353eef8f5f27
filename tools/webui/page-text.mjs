// Opens a page of the Temporal Web UI in headless Chromium (Debian's, driven by playwright-core),
// waits until every expected text is on it, saves a screenshot, and prints the page's text.
// Usage: node page-text.mjs <url> <screenshot.png> <timeout-ms> [expected text ...]
// Exit 0 when all texts appeared; 1 (with the page's text) when one did not within the timeout.
import { chromium } from 'playwright-core';

const [url, screenshot, timeoutMs, ...expected] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Root in a container has no user namespace for Chromium's sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
let code = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: Number(timeoutMs) });
  const deadline = Date.now() + Number(timeoutMs);
  let text = '';
  let missing = expected;
  while (Date.now() < deadline) {
    // Markdown (the workflow's current details) is rendered in sandboxed iframes: read them too.
    const parts = [];
    for (const frame of page.frames()) {
      try {
        parts.push(await frame.evaluate(() => (document.body ? document.body.innerText : '')));
      } catch (e) {
        // a frame that went away while reading
      }
    }
    text = parts.join('\n');
    missing = expected.filter((e) => !text.includes(e));
    if (missing.length === 0) break;
    await page.waitForTimeout(500);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  process.stdout.write(text + '\n');
  if (missing.length > 0) {
    process.stderr.write('missing on ' + url + ': ' + JSON.stringify(missing) + '\n');
    code = 1;
  }
} finally {
  await browser.close();
}
process.exit(code);
