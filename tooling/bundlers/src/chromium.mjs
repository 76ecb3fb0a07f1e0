// Debian's Chromium through playwright-core, with tooling/browser-test's flags; the
// skip-with-one-line rule of systemTool (under CI=true nothing skips).
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { systemTool } from '@koru/vitest-preset/helpers';

/** The Chromium binary (KORU_CHROMIUM overrides). */
export const CHROMIUM = process.env.KORU_CHROMIUM ?? '/usr/bin/chromium';

/** `{ available, reason }`: whether Chromium is there (installed when root and missing). */
export function chromiumTool() {
  return systemTool({ name: `Chromium (${CHROMIUM})`, present: () => existsSync(CHROMIUM), apt: 'chromium' });
}

/** Launches a headless Chromium. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
