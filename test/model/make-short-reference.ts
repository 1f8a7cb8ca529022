/**
 * Regenerates test/model/data/full_8steps_cfg3.f32 from the full-compute path:
 *   npx tsx test/model/make-short-reference.ts
 * Only after the 50-step parity test passes (it checks the same path against the exporter's reference).
 */
import { relL2, sample, writeF32, readF32 } from '../../lib/pipeline';
import { openModel, referenceNoise, SHORT_REFERENCE } from './helpers';

(async () => {
  const model = await openModel();
  const ref = model.manifest.reference!;
  const long = await sample(model, { labels: ref.labels, steps: ref.steps, guidance: ref.guidance, noise: referenceNoise(model) });
  const err = relL2(long.images, readF32(ref.output));
  if (!(err <= 1e-5)) throw new Error(`the full-compute path misses the 50-step reference (rel L2 ${err}); not writing`);
  const { labels, steps, guidance, file } = SHORT_REFERENCE;
  const r = await sample(model, { labels, steps, guidance, noise: referenceNoise(model) });
  writeF32(file, r.images);
  process.stdout.write(`50-step parity ${err.toExponential(2)}; wrote ${file} (${r.images.length} values)\n`);
  await model.dispose();
})();
