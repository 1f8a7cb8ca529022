/**
 * Text-conditioned graphs: inputs given as tensors instead of a class label. The made-small FLUX is cut where
 * its label becomes text embeddings, so the graph takes `encoder_hidden_states` [batch, 6, 32] as FLUX takes
 * T5's, and one of its rotary tables becomes a fixed-shape input as FLUX's position ids are. Given a table of
 * prompts (one row per label, the embeddings the original graph computes) and the constant, it samples the
 * bits of the original; tensors that do not fit the inputs are ERR_MODEL before anything runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeGraph, loadModel, type GraphModel } from './imports';
import { mmditSettings } from './reference-model';
import { ROOT } from './helpers';
import { taylorSeerErrorOf } from '../helpers/code-of';
import { tempDirOfFile } from '../helpers/temp-dir';
import { cli } from '../helpers/cli-run';

const SOURCE = path.join(ROOT, 'fixtures/mmdit-shapes');
const EMBEDDINGS = '/model/text_table/Gather_output_0'; // the text tokens the label selects, [batch, 6, 32]
const ROPE = '/model/double_blocks.0/Constant_10'; // a [70, 8] rotary table, a Constant node
const tmp = tempDirOfFile('taylorseer-conditions-');

/** The text embeddings of every label 0..10 as the original graph computes them (one run at batch 11). */
async function promptTable(): Promise<Float32Array> {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(SOURCE, 'model.onnx')));
  model.graph!.output!.push({ name: EMBEDDINGS, type: { tensorType: { elemType: 1 } } });
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { intraOpNumThreads: 1 });
  const n = 11;
  const r = await session.run({
    x: new ort.Tensor('float32', new Float32Array(n * 3 * 16 * 16), [n, 3, 16, 16]),
    t: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
    y: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [n]),
    guidance: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
  });
  await session.release();
  expect(r[EMBEDDINGS].dims).toEqual([n, 6, 32]);
  return Float32Array.from(r[EMBEDDINGS].data as Float32Array);
}

/** Writes the cut graph, prompts.f32, rope.f32 and a model.json naming them (or `description`) into `dir`. */
function textVariant(dir: string, table: Float32Array, description?: Record<string, unknown>): string {
  fs.mkdirSync(dir, { recursive: true });
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(SOURCE, 'model.onnx')));
  const g = model.graph!;
  const rope = g.node!.find((n) => n.name === ROPE)!;
  fs.writeFileSync(path.join(dir, 'rope.f32'), rope.attribute![0].t!.rawData!);
  const cut = new Set(['/model/Gather_1', '/model/text_table/Gather', ROPE]);
  const renamed: Record<string, string> = { [EMBEDDINGS]: 'encoder_hidden_states', [rope.output![0]]: 'rope' };
  g.node = g.node!.filter((n) => !cut.has(n.name!));
  for (const n of g.node) n.input = n.input!.map((x) => renamed[x] ?? x);
  // what only fed the cut nodes (the token ids and the embedding table's cast) goes too
  for (let pruned = true; pruned; ) {
    const read = new Set([...g.node.flatMap((n) => n.input!), ...g.output!.map((o) => o.name!)]);
    const before = g.node.length;
    g.node = g.node.filter((n) => n.output!.some((o) => read.has(o)));
    pruned = g.node.length < before;
  }
  g.input = [
    ...g.input!.filter((i) => i.name !== 'y'),
    { name: 'encoder_hidden_states', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 6 }, { dimValue: 32 }] } } } },
    { name: 'rope', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 70 }, { dimValue: 8 }] } } } },
  ];
  fs.writeFileSync(path.join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  fs.writeFileSync(path.join(dir, 'prompts.f32'), table);
  const json = description ?? {
    format: 'taylorseer-graph/1',
    graph: 'model.onnx',
    conditions: { encoder_hidden_states: 'prompts.f32', rope: 'rope.f32' },
    classes: 10,
    null_label: 10,
    sampler: { steps: 50, guidance: 3.5 },
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

describe('a text-conditioned graph with its prompts as a table', () => {
  let table: Float32Array;
  const runs = mmditSettings(SOURCE);
  let original: Record<string, Float32Array>;

  beforeAll(async () => {
    table = await promptTable();
    original = await runs.original();
  });

  it('samples the bits of the class-conditional original, full and accelerated, with the label a prompt row', async () => {
    const dir = textVariant(path.join(tmp(), 'text'), table);
    const model = (await loadModel(dir, { threads: 1 })) as GraphModel;
    try {
      expect(model.conditions).toMatchObject({ prompts: 11, tables: ['encoder_hidden_states'], constants: ['rope'] });
      expect(model.arch).toMatchObject({ classes: 10, nullClass: 10 });
      expect(model.forecastPlan.path).toBe('fused');
      expect(await runs.run(model)).toEqual(original);
    } finally {
      await model.dispose();
    }
  });

  it('inspect names the tables and constants; the command line takes them as --condition', async () => {
    const dir = textVariant(path.join(tmp(), 'cli'), table, { format: 'taylorseer-graph/1', graph: 'model.onnx' });
    const flags = ['--condition', `encoder_hidden_states=${path.join(dir, 'prompts.f32')}`, '--condition', `rope=${path.join(dir, 'rope.f32')}`, '--threads', '1'];
    const r = await cli(['inspect', dir, ...flags]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^conditions: 11 prompts in encoder_hidden_states \(a label is a prompt's row\); constant rope$/m);
    // the null label defaults to the last row, as for a class table
    expect(r.stdout).toMatch(/label=a prompt row \(classes 0\.\.9, null 10\)/);
    const evalArgs = ['eval', '--model', dir, ...flags, '--preset', 'flux-dev', '--guidance', '3.5', '--labels', '3,7', '--noise', path.join(SOURCE, 'reference/noise.f32'), '--json'];
    const text = JSON.parse((await cli(evalArgs)).stdout) as { psnr: number };
    const orig = JSON.parse((await cli([...evalArgs.slice(0, 2), SOURCE, ...evalArgs.slice(7)])).stdout) as { psnr: number };
    expect(text.psnr).toBe(orig.psnr);
  });

  const wrong: Array<[string, (dir: string) => Record<string, unknown>, RegExp]> = [
    ['a table with a partial row', (dir) => (fs.writeFileSync(path.join(dir, 'bad.f32'), new Float32Array(6 * 32 + 1)), { encoder_hidden_states: 'bad.f32', rope: 'rope.f32' }), /condition "encoder_hidden_states" is read from .*bad\.f32, which has 772 bytes; expected rows of \[6, 32\] float32 values, 768 bytes each/],
    ['a constant of the wrong size', (dir) => (fs.writeFileSync(path.join(dir, 'short.f32'), new Float32Array(8)), { encoder_hidden_states: 'prompts.f32', rope: 'short.f32' }), /condition "rope" is read from .*short\.f32, which has 32 bytes; expected \[70, 8\] float32 values \(2240 bytes\)/],
    ['a constant file holding two', (dir) => (fs.writeFileSync(path.join(dir, 'twice.f32'), new Float32Array(2 * 70 * 8)), { encoder_hidden_states: 'prompts.f32', rope: 'twice.f32' }), /condition "rope" has every dim fixed, so it is one constant of \[70, 8\] float32 values \(2240 bytes\); found 4480 bytes/],
    ['a name that is not an input', () => ({ encoder_hidden_states: 'prompts.f32', rope: 'rope.f32', pooled: 'rope.f32' }), /condition "pooled" is not an input of the graph/],
    ['the graph still needing an input', () => ({ encoder_hidden_states: 'prompts.f32' }), /inputs besides sample, timestep and label: rope .*--condition NAME=FILE/],
    ['no conditions at all: the message says how to give them', () => ({}), /no int64 input of rank 1 for the label .*a text-conditioned graph takes its text embeddings and fixed inputs as tensors: --condition NAME=FILE/],
  ];
  for (const [what, conditions, message] of wrong) {
    it(`refuses ${what} (ERR_MODEL, one line)`, () => {
      const dir = path.join(tmp(), `wrong-${what.replace(/\W+/g, '-')}`);
      fs.mkdirSync(dir, { recursive: true });
      textVariant(dir, table, { format: 'taylorseer-graph/1', graph: 'model.onnx', conditions: conditions(dir) });
      const error = taylorSeerErrorOf(() => analyzeGraph(dir));
      expect(error.code).toBe('ERR_MODEL');
      expect(error.message).toMatch(message);
      expect(error.message).not.toMatch(/\n/);
    });
  }

  it('an open first dim that is not the batch is a constant whose size the tensor gives (position ids exported with a dynamic length)', async () => {
    const dir = textVariant(path.join(tmp(), 'open'), table);
    const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
    const rope = model.graph!.input!.find((i) => i.name === 'rope')!;
    rope.type!.tensorType!.shape!.dim![0] = { dimParam: 'rope_len' };
    fs.writeFileSync(path.join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
    const loaded = (await loadModel(dir, { threads: 1 })) as GraphModel;
    try {
      expect(loaded.conditions).toMatchObject({ prompts: 11, tables: ['encoder_hidden_states'], constants: ['rope'] });
      expect(await runs.run(loaded)).toEqual(original);
    } finally {
      await loaded.dispose();
    }
  });

  it('refuses tables of different prompt counts and a label input named besides the tables', () => {
    const dir = textVariant(path.join(tmp(), 'two'), table);
    // the rope table has no batch dim, so a second table comes from a graph input that has one: guidance
    const guidance = new Float32Array(5).fill(3.5);
    expect(() => analyzeGraph(dir, { conditions: { guidance } })).toThrow(/condition "guidance" holds 5 prompts, the other tables 11/);
    expect(() => analyzeGraph(dir, { inputs: { label: 'y' } })).toThrow(/are tables of prompts, whose rows are the labels; the label input y cannot be named as well/);
    expect(() => analyzeGraph(dir, { conditions: { rope: new BigInt64Array(560) } })).toThrow(/condition "rope" must be \[70, 8\] float32 values/);
    // one prompt leaves no row for the unconditional pass
    expect(() => analyzeGraph(dir, { conditions: { encoder_hidden_states: table.slice(0, 6 * 32) } })).toThrow(/holds 1 prompt; a table holds the unconditional prompt's row too \(at least 2 rows\)/);
  });
});
