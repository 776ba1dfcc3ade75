// Before the browser tests: bundle the dashboard (dist/web, what GET / serves) and unpack the
// packaged Chromium once, so that test files starting at the same moment never race to unpack it.

import { buildWeb } from '../../web/build.js';
import { browserExecutable } from './browser.js';

export default async function setup(): Promise<void> {
  await buildWeb();
  await browserExecutable();
}
