/**
 * Weights kept beside the graph file (ONNX external data): a tensor whose data_location is EXTERNAL holds
 * `location` (a path relative to the graph's directory), `offset` and `length` instead of its bytes. Every
 * model over protobuf's 2 GiB is saved this way (torch.onnx.export, onnx.save_model with
 * save_as_external_data), so every published diffusion transformer is.
 *
 * The graphs derived from such a model keep these entries as they are and onnxruntime reads the weights from
 * the original files (session-options.ts sets the directory they are relative to). They are checked here
 * first, before anything is read or allocated, so that a damaged or hostile entry is an ERR_MODEL naming the
 * tensor and what is wrong: a path outside the graph's directory, a missing file, a range past the end of the
 * file or a length that does not match the tensor's shape.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaylorSeerError } from '../../errors';
import { hasControlCharacter, quote } from '../../validate';
import { elemBytes, toNumber, type GraphProto } from './onnx-file';

/** TensorProto.DataLocation.EXTERNAL */
const EXTERNAL = 1;

/** The keys ONNX defines for an external tensor (onnx/external_data_helper.py). */
const KEYS = new Set(['location', 'offset', 'length', 'checksum']);

export interface ExternalData {
  /** each side file (its location as written in the graph) and the bytes the graph reads from it */
  files: { location: string; bytes: number }[];
  /** tensors with their data outside the graph file */
  tensors: number;
  /** bytes read from the side files, in all */
  bytes: number;
}

interface TensorLike {
  name?: string | null;
  dims?: unknown[] | null;
  dataType?: number | null;
  dataLocation?: number | null;
  externalData?: { key?: string | null; value?: string | null }[] | null;
}

/** Every tensor the graph holds: initializers, sparse initializers' parts and tensor attributes, subgraphs included. */
function* tensorsOf(g: GraphProto): Generator<TensorLike> {
  yield* g.initializer ?? [];
  for (const s of g.sparseInitializer ?? []) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      if (a.g) yield* tensorsOf(a.g);
      for (const sub of a.graphs ?? []) yield* tensorsOf(sub);
    }
  }
}

/** A non-negative integer written in decimal, as external_data_helper writes offsets and lengths. */
function byteCount(value: string, fail: (why: string) => never, key: string): number {
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) fail(`its ${key} ${quote(value.slice(0, 40))} is not a byte count`);
  return Number(value);
}

/**
 * Checks every external tensor of the graph against the files in `dir` (the graph file's directory) and
 * returns what is read from where; undefined when every weight is inside the graph file. `where` names the
 * graph in messages. Errors: ERR_MODEL.
 */
export function checkExternalData(g: GraphProto, dir: string, where: string): ExternalData | undefined {
  const files = new Map<string, { size: number; bytes: number }>();
  let tensors = 0;
  let bytes = 0;
  for (const t of tensorsOf(g)) {
    if (t.dataLocation !== EXTERNAL) continue;
    const fail: (why: string) => never = (why) => {
      throw new TaylorSeerError('ERR_MODEL', `${where}: tensor ${quote((t.name ?? '').slice(0, 80))} keeps its data in an external file, but ${why}`);
    };
    const entries = new Map<string, string>();
    for (const { key, value } of t.externalData ?? []) {
      const k = key ?? '';
      if (!KEYS.has(k)) fail(`its external data has the field ${quote(k.slice(0, 40))} (expected location, offset, length, checksum)`);
      if (entries.has(k)) fail(`its external data names ${k} twice`);
      entries.set(k, value ?? '');
    }
    const location = entries.get('location');
    if (location === undefined || location === '') fail('it names no location');
    if (hasControlCharacter(location) || location.includes('\0')) fail(`its location ${quote(location.slice(0, 80))} has a control character`);
    const normal = path.normalize(location);
    if (path.isAbsolute(location) || normal === '..' || normal.startsWith(`..${path.sep}`) || normal === '.') {
      fail(`its location ${quote(location.slice(0, 80))} is not a file inside the graph's directory (expected a relative path such as "model.onnx.data")`);
    }
    let file = files.get(normal);
    if (!file) {
      const full = path.join(dir, normal);
      let st: fs.Stats;
      try {
        st = fs.statSync(full);
      } catch (e) {
        fail(`${quote(location)} cannot be read beside the graph (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); keep the graph's side files in its directory`);
      }
      if (!st.isFile()) fail(`${quote(location)} beside the graph is not a regular file`);
      // as for model.json's files: a symbolic link on the way must stay inside the directory too
      const real = path.relative(fs.realpathSync(dir), fs.realpathSync(full));
      if (real === '..' || real.startsWith(`..${path.sep}`) || path.isAbsolute(real)) fail(`${quote(location)} is a symbolic link out of the graph's directory`);
      file = { size: st.size, bytes: 0 };
      files.set(normal, file);
    }
    const offset = entries.has('offset') ? byteCount(entries.get('offset')!, fail, 'offset') : 0;
    const length = entries.has('length') ? byteCount(entries.get('length')!, fail, 'length') : file.size - offset;
    if (offset + length > file.size) fail(`it reads bytes ${offset}..${offset + length} of ${quote(location)}, which has ${file.size}`);
    const size = elemBytes(t.dataType);
    if (size === undefined) fail(`its element type ${t.dataType ?? 'unknown'} has no fixed size (external data holds numbers only)`);
    const elements = (t.dims ?? []).reduce<number>((n, d) => n * toNumber(d), 1);
    if (!Number.isSafeInteger(elements) || elements < 0 || elements * size !== length) {
      fail(`its shape [${(t.dims ?? []).map(toNumber).join(', ')}] takes ${elements * size} bytes and its external data ${length}`);
    }
    file.bytes += length;
    bytes += length;
    tensors++;
  }
  if (tensors === 0) return undefined;
  return { files: [...files].map(([location, f]) => ({ location, bytes: f.bytes })), tensors, bytes };
}
