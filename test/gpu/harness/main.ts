/**
 * Entry of the bundled GPU test runner (scripts/gpu-pack.sh puts the test imports before this module):
 * runs the registered tests, writes the results to $TS_TEST_JSON when set, exits 1 on any failure.
 */
import * as fs from 'node:fs';

import { run } from './vitest-shim';

export async function main(): Promise<void> {
  const results = await run();
  const file = process.env.TS_TEST_JSON;
  if (file) fs.writeFileSync(file, JSON.stringify(results, null, 1));
  // Exit explicitly: a hung device operation (a download that never settles keeps its thread-safe
  // function, and so the event loop, alive) must not keep the process running after its test timed out.
  process.exit(results.some((r) => r.status === 'fail') ? 1 : 0);
}
