/**
 * The CUDA half of the addon's API: cudaInfo, DeviceTensor lifecycle, upload/download, wrap (external
 * pointers), setStream and the error codes. Skips without a usable device.
 */
import { describe, expect, it } from 'vitest';

import type { DeviceTensor, NativeAddon } from '../../lib/native';
import { addon, cudaInfo, cudaUsable, expectCode, expectReject, seed } from './helpers';
import { alloc, firstDiff, randomArray, rng } from '../oracle/device-kernels';

describe('cudaInfo', () => {
  it.skipIf(!addon)('reports compiled / usable / reason consistently', () => {
    const info = addon!.cudaInfo();
    expect(typeof info.compiled).toBe('boolean');
    expect(typeof info.usable).toBe('boolean');
    if (info.usable) {
      expect(info.reason).toBe('');
      expect(info.devices.length).toBeGreaterThan(0);
    } else {
      expect(info.reason.length).toBeGreaterThan(0);
    }
    if (!info.compiled) expect(info.usable).toBe(false);
  });
  it.skipIf(!addon || cudaUsable)('throws ERR_DEVICE from every cuda function when CUDA is not usable', async () => {
    expectCode(() => addon!.cuda.alloc('f32', 4), 'ERR_DEVICE');
    expectCode(() => addon!.cuda.synchronize(), 'ERR_DEVICE');
    expectCode(() => addon!.cuda.wrap(4096n, 16, 'f32'), 'ERR_DEVICE');
  });
});

describe.skipIf(!cudaUsable)('DeviceTensor (CUDA)', () => {
  const cuda = addon?.cuda as NativeAddon['cuda']; // the body runs at collection even when skipped
  const r = rng(seed ^ 0x1234);

  it('describes the device', () => {
    const d = cudaInfo!.devices[0];
    expect(d.multiprocessors).toBeGreaterThan(0);
    expect(Number(d.computeCapability.split('.')[0])).toBeGreaterThanOrEqual(9);
  });

  it('alloc / dispose: properties, idempotent dispose, use after dispose', async () => {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const t = cuda.alloc(dtype, 1001);
      expect(t.dtype).toBe(dtype);
      expect(t.length).toBe(1001);
      expect(t.byteLength).toBe(1001 * (dtype === 'f32' ? 4 : 2));
      expect(t.pointer > 0n).toBe(true);
      expect(t.external).toBe(false);
      expect(t.disposed).toBe(false);
      t.dispose();
      expect(t.disposed).toBe(true);
      expect(t.pointer).toBe(0n);
      t.dispose(); // idempotent
      expectCode(() => cuda.upload(t, alloc(dtype, 3)), 'ERR_DISPOSED');
      await expectReject(cuda.download(t, alloc(dtype, 3)), 'ERR_DISPOSED');
    }
    const empty = cuda.alloc('f32', 0);
    expect(empty.length).toBe(0);
    empty.dispose();
  });

  it('rejects bad alloc arguments', () => {
    expectCode(() => cuda.alloc('f64' as never, 4), 'ERR_DTYPE');
    expectCode(() => cuda.alloc('f32', -1), 'ERR_INVALID_ARGUMENT');
    expectCode(() => cuda.alloc('f32', 1.5), 'ERR_INVALID_ARGUMENT');
  });

  it('upload / download round-trip every dtype, with offsets', async () => {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const n = 4099;
      const host = randomArray(dtype, n, r);
      const t = cuda.alloc(dtype, n);
      cuda.upload(t, host);
      const back = alloc(dtype, n);
      const p = cuda.download(t, back);
      expect(p instanceof Promise).toBe(true);
      await p;
      expect(firstDiff(back, host)).toBe(-1);
      // partial upload at an offset, partial download at an offset
      const part = randomArray(dtype, 100, r);
      cuda.upload(t, part, 17);
      const win = alloc(dtype, 120);
      await cuda.download(t, win, 7);
      for (let i = 0; i < 120; i++) {
        const k = i + 7;
        const want = k >= 17 && k < 117 ? part[k - 17] : host[k];
        if (win[i] !== want) throw new Error(`${dtype}: element ${k} is ${win[i]}, expected ${want}`);
      }
      expectCode(() => cuda.upload(t, alloc(dtype, 10), n - 5), 'ERR_LENGTH');
      await expectReject(cuda.download(t, alloc(dtype, 10), n - 5), 'ERR_LENGTH');
      const wrongType = dtype === 'f32' ? new Uint16Array(4) : new Float32Array(4);
      expectCode(() => cuda.upload(t, wrongType), 'ERR_DTYPE');
      t.dispose();
    }
  });

  it('download is stream-ordered at the call: later work does not leak into it', async () => {
    const n = 1 << 20;
    const factors = cuda.alloc('f32', n);
    const out = cuda.alloc('f32', n);
    const a = randomArray('f32', n, r) as Float32Array;
    const before = randomArray('f32', n, r) as Float32Array;
    cuda.upload(factors, a);
    cuda.upload(out, before);
    const got = new Float32Array(n);
    const p = cuda.download(out, got); // queued now...
    addon!.forecast('f32', 'f32', [{ factors, out, count: 1, coeffs: [2] }]); // ...before this overwrites out
    await p;
    expect(firstDiff(got, before)).toBe(-1);
    const after = new Float32Array(n);
    await cuda.download(out, after);
    expect(after[12345]).toBe(Math.fround(2 * a[12345]));
    factors.dispose();
    out.dispose();
  });

  it('many concurrent downloads settle with the right data', async () => {
    const ts: DeviceTensor[] = [];
    const hs: Float32Array[] = [];
    for (let k = 0; k < 16; k++) {
      const h = randomArray('f32', 1000 + k * 977, r) as Float32Array;
      const t = cuda.alloc('f32', h.length);
      cuda.upload(t, h);
      ts.push(t);
      hs.push(h);
    }
    const outs = hs.map((h) => new Float32Array(h.length));
    await Promise.all(ts.map((t, k) => cuda.download(t, outs[k])));
    for (let k = 0; k < ts.length; k++) expect(firstDiff(outs[k], hs[k])).toBe(-1);
    for (const t of ts) t.dispose();
  });

  it('wrap: external pointers, offsets, validation', async () => {
    const n = 1024;
    const host = randomArray('f32', n, r) as Float32Array;
    const t = cuda.alloc('f32', n);
    cuda.upload(t, host);
    const w = cuda.wrap(t.pointer, t.byteLength, 'f32');
    expect(w.external).toBe(true);
    expect(w.length).toBe(n);
    const back = new Float32Array(n);
    await cuda.download(w, back);
    expect(firstDiff(back, host)).toBe(-1);
    w.dispose(); // does not free the memory
    const off = cuda.wrap(t.pointer + 4n, (n - 1) * 4, 'f32', 0n); // misaligned view, ordered after stream 0
    const part = new Float32Array(n - 1);
    await cuda.download(off, part);
    expect(firstDiff(part, host.subarray(1))).toBe(-1);
    await cuda.download(t, back); // original still valid
    expect(firstDiff(back, host)).toBe(-1);
    // 16-bit view of the same bytes
    const h16 = cuda.wrap(t.pointer, 8, 'bf16');
    expect(h16.length).toBe(4);
    expectCode(() => cuda.wrap(t.pointer, 6, 'f32'), 'ERR_LENGTH');
    expectCode(() => cuda.wrap(t.pointer + 2n, 8, 'f32'), 'ERR_INVALID_ARGUMENT');
    expectCode(() => cuda.wrap(0n, 8, 'f32'), 'ERR_INVALID_ARGUMENT');
    expectCode(() => cuda.wrap(1 as never, 8, 'f32'), 'ERR_INVALID_ARGUMENT');
    const hostBuf = new Float32Array(16);
    // an address that is not device memory (a host address of this process is as good as any)
    expectCode(() => cuda.wrap(0x10000n, 64, 'f32'), 'ERR_DEVICE');
    void hostBuf;
    // Size check (driver entry point cuMemGetAddressRange): a range far past the allocation.
    try {
      cuda.wrap(t.pointer, 2 ** 40, 'f32');
      console.warn('note: cuda.wrap could not bound the allocation (no cuMemGetAddressRange); size unchecked');
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ERR_LENGTH');
    }
    off.dispose();
    t.dispose();
  });

  it('setStream: legacy default stream and back', async () => {
    const t = cuda.alloc('f32', 64);
    const h = randomArray('f32', 64, r);
    cuda.setStream(0n);
    cuda.upload(t, h);
    const b = new Float32Array(64);
    await cuda.download(t, b);
    expect(firstDiff(b, h)).toBe(-1);
    cuda.setStream(null);
    cuda.synchronize();
    expectCode(() => cuda.setStream('x' as never), 'ERR_INVALID_ARGUMENT');
    t.dispose();
  });

  it('tensors of one call must be on one device; disposed tensors are rejected by the kernels', () => {
    const f = cuda.alloc('f32', 8);
    const o = cuda.alloc('f32', 8);
    expectCode(() => addon!.forecast('f32', 'f32', [{ factors: f, out: new Float32Array(8), count: 1, coeffs: [1] }]), 'ERR_DEVICE');
    o.dispose();
    expectCode(() => addon!.forecast('f32', 'f32', [{ factors: f, out: o, count: 1, coeffs: [1] }]), 'ERR_DISPOSED');
    f.dispose();
  });
});
