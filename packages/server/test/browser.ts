import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's chromium, driven by playwright-core (which downloads no browser of its own). `.ci/run`
 * installs the package; these flags are the ones that work headless as root in a container.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.TESSERA_TEST_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
