// Before the browser tests: unpack the packaged Chromium once (test/helpers/global-setup.ts has
// built the dashboard already), so that test files starting at the same moment never race to
// unpack it, and a Chromium that cannot start fails here, once, with the reason.

import { browserExecutable, launchBrowser } from './browser.js';

export default async function setup(): Promise<void> {
  await browserExecutable();
  const browser = await launchBrowser();
  await browser.close();
}
