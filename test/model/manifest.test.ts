/**
 * model.json validation and the session-metadata check: every problem is ERR_MODEL naming what is wrong and
 * what was expected. Model directories are assembled in a temp dir from links to the bundled graphs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, loadModel, parseManifest, sample, TaylorSeerError } from './imports';
import { MODEL_DIR } from './helpers';
import { tempDirOfFile } from '../helpers/temp-dir';

const original = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8'));
const tmp = tempDirOfFile('taylorseer-manifest-');
let n = 0;

/** Hard links to every file under `src` (copies across file systems): real files of the new directory. */
function linkTree(src: string, dst: string, skip = ''): void {
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (f === skip) continue;
    const from = path.join(src, f);
    const to = path.join(dst, f);
    if (fs.statSync(from).isDirectory()) linkTree(from, to);
    else {
      try {
        fs.linkSync(from, to);
      } catch {
        fs.copyFileSync(from, to);
      }
    }
  }
}

/** A model dir whose files link to the bundled ones, with model.json replaced by `edit(copy of original)`. */
function modelDir(edit: (m: any) => unknown = (m) => m): string {
  const dir = path.join(tmp(), `m${n++}`);
  linkTree(MODEL_DIR, dir, 'model.json');
  const json = edit(structuredClone(original));
  fs.writeFileSync(path.join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}

function modelError(fn: () => unknown): TaylorSeerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TaylorSeerError);
    expect((e as TaylorSeerError).code).toBe('ERR_MODEL');
    return e as TaylorSeerError;
  }
  throw new Error('expected ERR_MODEL');
}

describe('manifest', () => {
  it('loads the bundled manifest', () => {
    const m = loadManifest(MODEL_DIR);
    expect(m.format).toBe('taylorseer-dit-onnx/1');
    expect(m.architecture).toMatchObject({ imageSize: 32, channels: 3, patch: 2, tokens: 256, hidden: 256, depth: 6, heads: 4, classes: 10, nullClass: 10 });
    expect(m.files.attn).toHaveLength(6);
    expect(m.reference?.labels).toEqual([3, 7]);
    expect(path.isAbsolute(m.files.embed)).toBe(true);
  });

  it.each([
    ['a missing directory', () => loadManifest(path.join(os.tmpdir(), 'no-such-taylorseer-model')), /does not exist/],
    ['a missing model.json', () => loadManifest(fs.mkdtempSync(path.join(tmp(), 'empty-'))), /model\.json is missing/],
    ['invalid JSON', () => loadManifest(modelDir(() => '{ nope')), /not valid JSON/],
    ['another format', () => loadManifest(modelDir((m) => ({ ...m, format: 'other/2' }))), /"format" must be "taylorseer-dit-onnx\/1", found "other\/2"/],
    ['a non-integer depth', () => loadManifest(modelDir((m) => ((m.architecture.depth = 'six'), m))), /"depth" must be an integer >= 1, found "six"/],
    ['inconsistent tokens', () => loadManifest(modelDir((m) => ((m.architecture.tokens = 100), m))), /"tokens" must be \(image_size \/ patch\)\^2 = 256, found 100/],
    [
      'a sample larger than the pipelines allocate',
      () => loadManifest(modelDir((m) => ((m.architecture.image_size = 8192), (m.architecture.tokens = undefined), m))),
      /a sample of 3 x 8192 x 8192 = 201326592 elements is larger than the pipelines allocate \(at most 134217728, 512 MiB of float32\)/,
    ],
    ['hidden not divisible by heads', () => loadManifest(modelDir((m) => ((m.architecture.heads = 3), m))), /multiple of "heads"/],
    ['a null class inside the classes', () => loadManifest(modelDir((m) => ((m.architecture.null_class = 4), m))), /"null_class" must be a label outside/],
    ['too few attention graphs', () => loadManifest(modelDir((m) => ((m.files.attn = m.files.attn.slice(0, 5)), m))), /"files\.attn" must list one graph per block \(depth 6\), found an array of length 5/],
    ['a missing graph file', () => loadManifest(modelDir((m) => ((m.files.final = 'nope.onnx'), m))), /"files\.final" names "nope\.onnx", which does not exist/],
    ['a file name with control characters, quoted with them escaped', () => loadManifest(modelDir((m) => ((m.files.final = '\u001b[2J\u009b.onnx'), m))), /"files\.final" names "\\u001b\[2J\\u009b\.onnx", which does not exist/],
    ['a path escaping the directory', () => loadManifest(modelDir((m) => ((m.files.embed = '../embed.onnx'), m))), /must stay inside the model directory/],
    ['a bad reference', () => loadManifest(modelDir((m) => ((m.reference.labels = [3, 42]), m))), /"labels" must be a non-empty array of class labels 0\.\.9/],
    ['a non-object', () => parseManifest([], MODEL_DIR), /expected a JSON object, found an array/],
  ])('rejects %s', (_name, fn, message) => {
    expect(modelError(fn).message).toMatch(message);
  });

  it('refuses a symbolic link that leaves the model directory, for a file or a directory on the way', () => {
    const outside = path.join(tmp(), 'outside');
    fs.mkdirSync(outside);
    fs.copyFileSync(path.join(MODEL_DIR, 'final.onnx'), path.join(outside, 'final.onnx'));
    const file = modelDir();
    fs.rmSync(path.join(file, 'final.onnx'));
    fs.symlinkSync(path.join(outside, 'final.onnx'), path.join(file, 'final.onnx'));
    expect(modelError(() => loadManifest(file)).message).toMatch(/"files\.final" names "final\.onnx", a symbolic link to .*outside.*final\.onnx outside the model directory/);
    const viaDir = modelDir((m) => ((m.files.final = 'sub/final.onnx'), m));
    fs.symlinkSync(outside, path.join(viaDir, 'sub'));
    expect(modelError(() => loadManifest(viaDir)).message).toMatch(/"files\.final" names "sub\/final\.onnx", a symbolic link/);
    // a link that stays inside is fine
    const inside = modelDir((m) => ((m.files.final = 'alias.onnx'), m));
    fs.symlinkSync('final.onnx', path.join(inside, 'alias.onnx'));
    expect(loadManifest(inside).files.final).toBe(path.join(inside, 'alias.onnx'));
  });

  it.runIf(process.platform !== 'win32')('refuses a model.json that is not a regular file at once (a FIFO would block forever)', () => {
    const dir = modelDir();
    fs.rmSync(path.join(dir, 'model.json'));
    execFileSync('mkfifo', [path.join(dir, 'model.json')]);
    expect(modelError(() => loadManifest(dir)).message).toMatch(/model\.json: it is a FIFO \(named pipe\), not a regular file/);
  });

  it('checks every graph against the architecture through the session metadata', async () => {
    // embed.onnx where the modulation graph belongs: the inputs do not match
    const swapped = modelDir((m) => ((m.files.modulation = 'embed.onnx'), m));
    await expect(loadModel(swapped, { threads: 1 })).rejects.toMatchObject({
      code: 'ERR_MODEL',
      message: expect.stringMatching(/embed\.onnx \(modulation\): expected inputs \[c\], found \[x, t, y\]/),
    });
    // a manifest claiming a wider model than the graphs implement
    const wider = modelDir((m) => ((m.architecture.hidden = 512), m));
    await expect(loadModel(wider, { threads: 1 })).rejects.toMatchObject({
      code: 'ERR_MODEL',
      message: expect.stringMatching(/must have shape \[batch, 256, 512\].*found \[batch, 256, 256\]/),
    });
  });

  it("a manifest claiming more classes than the embedding table holds: sampling one is ERR_MODEL naming the graph onnxruntime failed in", async () => {
    const more = modelDir((m) => ((m.architecture.classes = 50), (m.architecture.null_class = 50), m));
    const model = await loadModel(more, { threads: 1 });
    try {
      await expect(sample(model, { labels: [30], steps: 2 })).rejects.toMatchObject({
        code: 'ERR_MODEL',
        message: expect.stringMatching(/^dit-digits \(embed\): onnxruntime failed: .*Gather/),
      });
    } finally {
      await model.dispose();
    }
  });
});

describe('loadModel options', () => {
  it('must be an object of the options it knows: a misspelt one is refused, not ignored', async () => {
    await expect(loadModel(MODEL_DIR, null as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/loadModel options must be an object/) });
    await expect(loadModel(MODEL_DIR, { thread: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/"thread"/) });
  });
});
