/**
 * The Python reference's operation sequence written the straightforward way in TypeScript: one whole-array
 * operation at a time, each producing a new array (as torch eager does). The benchmark's baseline.
 */

function sub(a: Float32Array, b: Float32Array): Float32Array {
  const r = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) r[i] = a[i] - b[i];
  return r;
}

function divScalar(a: Float32Array, s: number): Float32Array {
  const r = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) r[i] = a[i] / s;
  return r;
}

function mulScalar(a: Float32Array, s: number): Float32Array {
  const r = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) r[i] = a[i] * s;
  return r;
}

function add(a: Float32Array, b: Float32Array): Float32Array {
  const r = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) r[i] = a[i] + b[i];
  return r;
}

/** updated[0] = F; updated[i+1] = (updated[i] - old[i]) / distance, for each old factor. */
export function naiveUpdate(fresh: Float32Array, old: Float32Array[], newCount: number, distance: number): Float32Array[] {
  const updated: Float32Array[] = [fresh.slice()];
  for (let i = 0; i + 1 < newCount; i++) updated.push(divScalar(sub(updated[i], old[i]), distance));
  return updated;
}

/** out = sum_i d_i * x^i / i!, accumulated one operation at a time. */
export function naiveForecast(factors: Float32Array[], x: number): Float32Array {
  let out: Float32Array = new Float32Array(factors[0].length);
  let fact = 1;
  for (let i = 0; i < factors.length; i++) {
    if (i > 0) fact *= i;
    out = add(out, mulScalar(factors[i], x ** i / fact));
  }
  return out;
}
