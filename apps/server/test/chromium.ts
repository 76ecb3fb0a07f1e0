// Debian's Chromium for the server's browser tests (not a test file itself): whether it is
// there (it is installed when missing and run as root; never skipped under CI=true), and
// a headless launch with the flags every browser test of the project uses.
import { existsSync } from 'node:fs';
import { systemTool } from '@koru/vitest-preset/helpers';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.KORU_CHROMIUM ?? '/usr/bin/chromium';
const chromiumTool = systemTool({ name: `Chromium (${CHROMIUM})`, present: () => existsSync(CHROMIUM), apt: 'chromium' });

/** True when Chromium can run; otherwise `label` says once, on one line, why its tests skip. */
export function chromiumAvailable(label: string): boolean {
  if (!chromiumTool.available) console.log(`[${label}] skipped: ${chromiumTool.reason}`);
  return chromiumTool.available;
}

/** A headless Chromium: no sandbox (root), no GPU, nothing phoning home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
