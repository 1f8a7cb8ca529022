/**
 * Graphs whose weights live in side files (ONNX external data: how torch.onnx.export and onnx save every
 * model over protobuf's 2 GiB, so every published diffusion transformer). The made-small FLUX with its weights
 * moved out, into one file or one per tensor, loads and samples exactly as with its weights inside; an entry
 * that points outside the graph's directory, at a missing file or past a file's end, or that does not match its
 * tensor, is an ERR_MODEL before onnxruntime reads anything.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeGraph, loadModel, type GraphModel } from './imports';
import { mmditSettings } from './reference-model';
import { ROOT } from './helpers';
import { taylorSeerErrorOf } from '../helpers/code-of';
import { tempDirOfFile } from '../helpers/temp-dir';
import { cli } from '../helpers/cli-run';

const SOURCE = path.join(ROOT, 'fixtures/mmdit-shapes');
const tmp = tempDirOfFile('taylorseer-external-data-');

/** Where each external tensor's bytes go: all into one file, or a file per tensor named after it. */
type Layout = 'one file' | 'file per tensor';

/**
 * The fixture's graph in `dir` with every initializer of 1 KiB or more moved into side files as onnx's
 * external_data_helper writes them (location, offset, length; data_location EXTERNAL), and its model.json
 * without the reference run (whose files stay in the fixture). `edit` may then damage one external entry.
 */
function externalCopy(dir: string, layout: Layout, edit?: (t: onnx.ITensorProto) => void): string {
  fs.mkdirSync(dir, { recursive: true });
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(SOURCE, 'model.onnx')));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  model.graph!.initializer!.forEach((t, i) => {
    const data = t.rawData;
    if (!data || data.length < 1024) return;
    const location = layout === 'one file' ? 'model.onnx.data' : `weight_${i}.bin`;
    if (layout === 'one file') chunks.push(data);
    else fs.writeFileSync(path.join(dir, location), data);
    const at = layout === 'one file' ? offset : 0;
    offset += layout === 'one file' ? data.length : 0;
    t.externalData = [
      onnx.StringStringEntryProto.create({ key: 'location', value: location }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(at) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(data.length) }),
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
  });
  if (layout === 'one file') fs.writeFileSync(path.join(dir, 'model.onnx.data'), Buffer.concat(chunks));
  const first = model.graph!.initializer!.find((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)!;
  edit?.(first);
  fs.writeFileSync(path.join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  const { reference: _reference, ...description } = JSON.parse(fs.readFileSync(path.join(SOURCE, 'model.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(description));
  return dir;
}

/** Sets key's value in an external tensor's entries (adding it when absent). */
function setEntry(t: onnx.ITensorProto, key: string, value: string): void {
  const entries = t.externalData!;
  const e = entries.find((x) => x.key === key);
  if (e) e.value = value;
  else entries.push(onnx.StringStringEntryProto.create({ key, value }));
}

describe('a graph with its weights in side files', () => {
  const runs = mmditSettings(SOURCE);
  let inline: Record<string, Float32Array>;

  beforeAll(async () => {
    inline = await runs.original();
  });

  const cases: Array<[Layout, { cacheDir?: boolean }]> = [
    ['one file', {}],
    ['file per tensor', {}],
    ['one file', { cacheDir: true }],
  ];
  for (const [layout, { cacheDir }] of cases) {
    it(`${layout}${cacheDir ? ', derived graphs written to a cache directory' : ''}: full compute and the flux-dev preset give the bits of the graph with its weights inside`, async () => {
      const dir = externalCopy(path.join(tmp(), `${layout.replace(/ /g, '-')}${cacheDir ? '-cached' : ''}`), layout);
      const model = (await loadModel(dir, { threads: 1, ...(cacheDir ? { cacheDir: path.join(dir, 'derived') } : {}) })) as GraphModel;
      try {
        expect(model.externalData).toMatchObject({ tensors: 39 });
        expect(model.externalData!.files).toHaveLength(layout === 'one file' ? 1 : 39);
        expect(await runs.run(model)).toEqual(inline);
      } finally {
        await model.dispose();
      }
      if (cacheDir) expect(fs.readdirSync(path.join(dir, 'derived'))).toContain('model.full.onnx');
    });
  }

  it("a side file whose name starts with two dots is still a file inside the graph's directory", async () => {
    const dir = externalCopy(path.join(tmp(), 'dots'), 'one file', (t) => setEntry(t, 'location', '..model.onnx.data'));
    fs.copyFileSync(path.join(dir, 'model.onnx.data'), path.join(dir, '..model.onnx.data'));
    expect(analyzeGraph(dir).externalData).toMatchObject({ tensors: 39 });
  });

  it('inspect names the side file and what it holds; --json gives it as externalData', async () => {
    const dir = externalCopy(path.join(tmp(), 'inspect'), 'one file');
    const r = await cli(['inspect', dir, '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^weights: 39 tensors \([\d.]+ [KM]iB\) in external data, 1 file beside the graph \(model\.onnx\.data\); every derived graph reads them from there$/m);
    const json = JSON.parse((await cli(['inspect', dir, '--threads', '1', '--json'])).stdout) as { externalData: { files: Array<{ location: string; bytes: number }>; bytes: number } };
    expect(json.externalData.files).toEqual([{ location: 'model.onnx.data', bytes: fs.statSync(path.join(dir, 'model.onnx.data')).size }]);
    expect(json.externalData.bytes).toBe(json.externalData.files[0].bytes);
  });
});

describe('side-file entries that cannot be used are ERR_MODEL, before anything is read', () => {
  const damaged: Array<[string, (t: onnx.ITensorProto, dir: string) => void, RegExp]> = [
    ['an absolute location', (t) => setEntry(t, 'location', '/etc/hostname'), /location "\/etc\/hostname" is not a file inside the graph's directory \(expected a relative path/],
    ["a location that climbs out of the graph's directory", (t) => setEntry(t, 'location', 'sub/../../model.onnx.data'), /location "sub\/\.\.\/\.\.\/model\.onnx\.data" is not a file inside the graph's directory/],
    ['a missing file', (t) => setEntry(t, 'location', 'weights.bin'), /"weights\.bin" cannot be read beside the graph \(ENOENT\); keep the graph's side files in its directory/],
    ['a symbolic link out of the directory', (t, dir) => (fs.symlinkSync(path.join(SOURCE, 'model.onnx'), path.join(dir, 'elsewhere.data')), setEntry(t, 'location', 'elsewhere.data')), /"elsewhere\.data" is a symbolic link out of the graph's directory/],
    ['a directory', (t, dir) => (fs.mkdirSync(path.join(dir, 'sub')), setEntry(t, 'location', 'sub')), /"sub" beside the graph is not a regular file/],
    ['a range past the end of the file', (t) => setEntry(t, 'offset', String(2 ** 40)), /it reads bytes 1099511627776\.\.\d+ of "model\.onnx\.data", which has \d+/],
    ['a length that does not match the shape', (t) => setEntry(t, 'length', '4'), /its shape \[[\d, ]+\] takes \d+ bytes and its external data 4/],
    ['an offset that is not a number', (t) => setEntry(t, 'offset', '-8'), /its offset "-8" is not a byte count/],
    ['a field onnx does not define', (t) => setEntry(t, 'mmap', '1'), /its external data has the field "mmap" \(expected location, offset, length, checksum\)/],
    ['no location', (t) => (t.externalData = t.externalData!.filter((e) => e.key !== 'location')), /it names no location/],
    ['a control character in the location', (t) => setEntry(t, 'location', 'model\u001b[2J.data'), /its location "model\\u001b\[2J\.data" has a control character/],
    ['strings kept outside', (t) => (t.dataType = onnx.TensorProto.DataType.STRING), /its element type 8 has no fixed size/],
  ];
  for (const [what, edit, message] of damaged) {
    it(what, () => {
      const dir = path.join(tmp(), `damaged-${what.replace(/\W+/g, '-')}`);
      let target = '';
      externalCopy(dir, 'one file', (t) => {
        target = t.name!;
        edit(t, dir);
      });
      const error = taylorSeerErrorOf(() => analyzeGraph(dir));
      expect(error.code).toBe('ERR_MODEL');
      const m = error.message;
      expect(m).toContain(`tensor "${target}" keeps its data in an external file, but `);
      expect(m).toMatch(message);
      expect(m).not.toMatch(/\n/);
    });
  }

  it('the command line says it in one line and exits non-zero', async () => {
    const dir = externalCopy(path.join(tmp(), 'damaged-cli'), 'one file', (t) => setEntry(t, 'location', '../elsewhere.data'));
    const r = await cli(['eval', '--model', dir, '--labels', '3', '--steps', '4']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/location "\.\.\/elsewhere\.data" is not a file inside the graph's directory .*\[ERR_MODEL\]/);
  });
});
