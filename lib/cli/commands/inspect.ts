/**
 * `taylorseer inspect MODEL.onnx`: what TaylorSeer would cache in one exported graph (the residual branches,
 * per block, with their shapes at batch 1), how the inputs were recognised, and which graphs a forecast
 * step runs (its path, and why not a better one). Writes nothing.
 */
import { TaylorSeerError } from '../../errors';
import { GraphModel } from '../../pipeline/graph/graph-model';
import type { AppliedConditions } from '../../pipeline/graph/conditions';
import type { ExternalData } from '../../pipeline/graph/external-data';
import type { ForecastPlan } from '../../pipeline/graph/forecast-graphs';
import type { Command } from '../command';
import { formatBytes, formatTable } from '../parse';
import { GRAPH_FLAGS, graphOptions, MODEL_FLAG, parseThreads, str, THREADS_FLAG } from './pipeline-shared';

/** The fused path's streams: "the stream", or "its stream (3 streams, bridged by 1 node)". */
function streamsOf(plan: ForecastPlan): string {
  const streams = plan.streams ?? 1;
  if (streams === 1) return 'the stream';
  const bridges = plan.nodes.bridges;
  return `its stream (${streams} streams${bridges === undefined ? '' : `, bridged by ${bridges} node${bridges === 1 ? '' : 's'}`})`;
}

/** What a forecast step runs, and why not a better path. */
function externalLine(e: ExternalData): string {
  const files = e.files.length === 1 ? `1 file beside the graph (${e.files[0].location})` : `${e.files.length} files beside the graph`;
  return `weights: ${e.tensors} tensors (${formatBytes(e.bytes)}) in external data, ${files}; every derived graph reads them from there`;
}

function conditionsLine(c: AppliedConditions): string {
  const parts = [
    ...(c.tables.length > 0 ? [`${c.prompts} prompts in ${c.tables.join(', ')} (a label is a prompt's row)`] : []),
    ...(c.constants.length > 0 ? [`constant ${c.constants.join(', ')}`] : []),
  ];
  return `conditions: ${parts.join('; ')}`;
}

function forecastLine(plan: ForecastPlan, nodes: { full: number; trunk: number }): string {
  const n = plan.nodes;
  const runs =
    plan.path === 'trunk'
      ? `the trunk (${n.trunk} of the graph's ${nodes.full} nodes)`
      : plan.path === 'conditioning'
        ? `the conditioning (${n.conditioning} nodes, batched over the coming steps) and the rest of the trunk (${n.rest} nodes)`
        : `the conditioning (${n.conditioning} nodes, batched over the coming steps), a head (${n.head} nodes), the fused forecast of every branch into ${streamsOf(plan)}, a tail (${n.tail} nodes)`;
  const why = Object.entries(plan.reasons).map(([path, reason]) => `not ${path}: ${reason}`);
  return `a forecast step (path ${plan.path}) runs ${runs}${why.length > 0 ? `; ${why.join('; ')}` : ''}`;
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'the branches TaylorSeer caches in one exported ONNX graph, per block, with shapes',
  details:
    'MODEL is one exported ONNX graph of a whole denoiser (or a directory holding model.onnx). The shapes come from one ' +
    'batch-1 run on zeros; nothing is written. A graph with no residual stream, inputs that cannot be recognised or a --cache ' +
    'pattern that matches nothing is an ERR_MODEL saying what was found and what was expected.',
  positionals: 'MODEL.onnx|DIR',
  options: {
    ...GRAPH_FLAGS,
    model: { ...MODEL_FLAG, value: 'FILE.onnx|DIR', defaultText: undefined, description: 'the graph, instead of the positional argument' },
    threads: THREADS_FLAG,
    json: { type: 'boolean', description: 'print { branches: [{ tensor, kind, block, key, shape }], inputs, forecast: { path, reasons, nodes }, ... } as JSON' },
  },
  examples: [
    'taylorseer inspect my-dit/model.onnx',
    "taylorseer inspect my-dit/model.onnx --json --cache 'blocks\\.\\d+\\.attn'",
    'taylorseer inspect model.onnx --inputs sample=latent,timestep=sigma,label=class_id --null-label 1000',
  ],
  async run(v, positionals) {
    const given = [...positionals, ...(str(v, 'model') !== undefined ? [str(v, 'model')!] : [])];
    if (given.length !== 1) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `expected one model (an .onnx file or a directory holding model.onnx), found ${given.length}`);
    }
    const threads = parseThreads(v);
    const model = await GraphModel.load(given[0], { ...graphOptions(v), threads });
    try {
      const shapes = await model.probe();
      const branches = model.branches.map((b, k) => ({ tensor: b.tensor, kind: b.kind, block: b.block, stream: b.stream, key: b.key, shape: shapes.branches[k], ...(b.gate ? { gate: b.gate } : {}) }));
      const gated = branches.filter((b) => b.kind === 'gated').length;
      const streams = new Set(model.branches.map((b) => b.stream)).size;
      const report = {
        model: model.manifest.file,
        name: model.manifest.name,
        inputs: { sample: model.io.sample, timestep: model.io.timestep, label: model.io.label, ...(model.io.guidance ? { guidance: model.io.guidance } : {}) },
        output: { name: model.io.output, shape: shapes.output },
        classes: model.arch.classes,
        nullLabel: model.arch.nullClass,
        timestepScale: model.timestepScale,
        streams,
        branches,
        nodes: model.nodes,
        forecast: model.forecastPlan,
        ...(model.externalData ? { externalData: model.externalData } : {}),
        ...(model.conditions.tables.length + model.conditions.constants.length > 0 ? { conditions: model.conditions } : {}),
      };
      if (v.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return 0;
      }
      const lines = [
        `${report.name}: ${branches.length} branches (${gated} gated, ${branches.length - gated} plain) in ${streams} residual stream${streams === 1 ? '' : 's'}`,
        `inputs: sample=${report.inputs.sample} timestep=${report.inputs.timestep} (x ${report.timestepScale}) label=${model.conditions.label === undefined ? report.inputs.label : 'a prompt row'} (classes 0..${report.classes - 1}, null ${report.nullLabel})${model.io.guidance ? ` guidance=${model.io.guidance} (distilled: the scale is an input)` : ''}; output ${report.output.name} [${shapes.output.join(', ')}]`,
        forecastLine(report.forecast, model.nodes),
        ...(model.externalData ? [externalLine(model.externalData)] : []),
        ...(model.conditions.tables.length + model.conditions.constants.length > 0 ? [conditionsLine(model.conditions)] : []),
        '',
        formatTable(
          ['block', 'stream', 'key', 'kind', 'shape (batch 1)', 'tensor'],
          branches.map((b) => [b.block, String(b.stream), b.key, b.kind, `[${b.shape.join(', ')}]`, b.tensor]),
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
