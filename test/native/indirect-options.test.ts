/**
 * options.values of update / forecast (indirect launches) outside a GPU: the values live in device memory,
 * so host tables and host values are refused with ERR_DEVICE, and offset / stride alone are an error.
 * Nothing runs and nothing changes on a refused call.
 */
import { describe, expect, it } from 'vitest';

import { native } from '../../lib/native';
import { codeOf } from '../helpers/code-of';

describe('options.values on host tables', () => {
  const a = native();
  it('is ERR_DEVICE: the kernels read the values from device memory', () => {
    const factors = new Float32Array(12).fill(1);
    const out = new Float32Array(4).fill(7);
    const values = new Float32Array([1, 2, 3]);
    expect(codeOf(() => a.forecast('f32', 'f32', [{ factors, out, count: 3, coeffs: [1, 1, 1] }], { values: values as never }))).toBe('ERR_DEVICE');
    expect(codeOf(() => a.update('f32', 'f32', [{ factors, fresh: out, oldCount: 2, newCount: 3 }], { values: values as never }))).toBe('ERR_DEVICE');
    expect(Array.from(out)).toEqual([7, 7, 7, 7]);
    expect(Array.from(factors)).toEqual(new Array(12).fill(1));
  });

  it('offset or stride without values is ERR_INVALID_ARGUMENT; a non-object is too', () => {
    const factors = new Float32Array(4).fill(1);
    const out = new Float32Array(4);
    expect(codeOf(() => a.forecast('f32', 'f32', [{ factors, out, count: 1, coeffs: [1] }], { offset: 5 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => a.update('f32', 'f32', [{ factors, fresh: out, oldCount: 0, newCount: 1 }], { stride: 1 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => a.update('f32', 'f32', [{ factors, fresh: out, oldCount: 0, newCount: 1 }], 3 as never))).toBe('ERR_INVALID_ARGUMENT');
    // without options the call still works as before
    a.update('f32', 'f32', [{ factors, fresh: Float32Array.from([1, 2, 3, 4]), oldCount: 0, newCount: 1 }]);
    expect(Array.from(factors)).toEqual([1, 2, 3, 4]);
  });
});
