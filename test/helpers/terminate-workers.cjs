// Child-process driver for test/native/threads.test.ts (a crash here must not take the test runner down):
//   node test/helpers/terminate-workers.cjs <scenario> <rounds> <n>
// scenario 'in-flight': each round starts 4 workers in 'kernel-loop' / 'hook-loop' mode (2 each) on n
// elements, waits until all are busy, sleeps a round-dependent delay, then terminate()s them all while
// kernels are running or queued. scenario 'idle': the workers hold factors but have nothing in flight.
// Afterwards 2 fresh workers run the deterministic sequence. Prints one JSON line:
//   { ok: true, rounds, exitCodes, after: [{ seed, digests, errors }, ...] }
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const [scenario = 'in-flight', roundsArg = '6', nArg = String(8 << 20)] = process.argv.slice(2);
const rounds = Number(roundsArg);
const n = Number(nArg);
const entry = path.join(__dirname, 'seer-worker.cjs');
const delays = [0, 1, 5, 20, 50, 120, 3, 10];

function start(workerData) {
  const w = new Worker(entry, { workerData });
  const started = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited early with code ${code}`)));
  });
  return { w, started };
}

function runSequence(seed) {
  const w = new Worker(entry, { workerData: { mode: 'sequence', seed } });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

async function main() {
  const exitCodes = [];
  for (let r = 0; r < rounds; r++) {
    const ws = [0, 1, 2, 3].map((index) =>
      start({ mode: scenario === 'idle' ? 'idle' : index % 2 ? 'hook-loop' : 'kernel-loop', n, index: index + r }),
    );
    await Promise.all(ws.map((x) => x.started));
    await new Promise((resolve) => setTimeout(resolve, delays[r % delays.length]));
    exitCodes.push(await Promise.all(ws.map((x) => x.w.terminate())));
  }
  const after = await Promise.all([101, 202].map(runSequence));
  process.stdout.write(JSON.stringify({ ok: true, scenario, rounds, exitCodes, after }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
