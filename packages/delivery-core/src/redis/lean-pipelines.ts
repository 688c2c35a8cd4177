/**
 * ioredis pipelines that the young-generation GC can free. ioredis 5.x's Pipeline constructor
 * defines `length` on every instance, as an accessor whose getter closes over the pipeline. Such
 * a pipeline, with everything it holds (its commands, their arguments, the replies), outlives the
 * V8 scavenges that should free it and is promoted to the old generation: measured with plain
 * ioredis (a loop of 48-command pipelines or MULTIs), 15–17 % of all bytes allocated were
 * promoted, against 0.6 % with pipelines built here; throughput of that loop +27 %. Herald builds a
 * pipeline for every group-commit MULTI, event batch and auto-pipeline flush, so in the relay
 * the old generation grew ≈ 30 MB/s under load and both threads paid for it in scavenges that
 * copy the survivors twice and in full GCs every few seconds (docs/benchmarks.md).
 * `useLeanPipelines()` makes ioredis build its pipelines with the same fields, `length` a getter
 * on Pipeline's prototype. ioredis also copied the client's scripts and added commands (two
 * functions each) onto every pipeline; here they sit once on a prototype per client, between
 * the pipeline and Pipeline's prototype, rebuilt when `defineCommand` or `addBuiltinCommand`
 * adds one. Touchpoint: the `default` export of `ioredis/built/Pipeline.js`, which
 * `redis.pipeline()` and `redis.multi()` (transaction.js) read at every `new`, the fields its
 * constructor sets, and Commander's `defineCommand` / `addBuiltinCommand` as the only writers of
 * a client's scripts. The first pipeline built here is compared with one ioredis builds for the
 * same client: if their fields differ (another ioredis), ioredis' own constructor is put back
 * and nothing else changes.
 */
import { createRequire } from 'node:module';

interface PipelineClient {
  options: unknown;
  isCluster?: boolean;
  scriptsSet: Record<string, { sha: string }>;
  addedBuiltinSet: Set<string>;
  constructor: { name: string };
}

type Fields = Record<string, unknown>;
type PipelineConstructor = new (redis: PipelineClient) => Fields;
type CommanderConstructor = new () => object & {
  defineCommand(...args: unknown[]): unknown;
  addBuiltinCommand(...args: unknown[]): unknown;
};

interface PipelineModule {
  default: PipelineConstructor;
}

/** The class of a client's pipelines: its scripts and added commands on the class's prototype. */
type Shape = new (redis: PipelineClient) => Fields;

const require = createRequire(import.meta.url);
const shapes = new WeakMap<object, Shape>();

let installed: 'no' | 'yes' | 'refused' = 'no';

/** Whether pipelines are built lean now (false before `useLeanPipelines` or when refused). */
export function leanPipelinesActive(): boolean {
  return installed === 'yes';
}

/** Makes every ioredis pipeline from now on lean (idempotent; process-wide, as ioredis is). */
export function useLeanPipelines(): void {
  if (installed !== 'no') return;
  installed = 'refused';
  const found = loadModule<PipelineModule>('ioredis/built/Pipeline.js');
  const commander = loadModule<{ default: CommanderConstructor }>('ioredis/built/utils/Commander.js');
  if (typeof found?.default !== 'function' || typeof commander?.default !== 'function') return;
  const mod: PipelineModule = found;
  const Original: PipelineConstructor = found.default;
  const Commander: CommanderConstructor = commander.default;
  const commands = Commander.prototype;
  if (typeof commands.defineCommand !== 'function' || typeof commands.addBuiltinCommand !== 'function')
    return;
  if (!/defineProperty\(this,\s*"length"/.test(Function.prototype.toString.call(Original))) return;
  if (Object.getOwnPropertyDescriptor(Original.prototype, 'length') === undefined)
    Object.defineProperty(Original.prototype, 'length', {
      configurable: true,
      get(this: { _queue: unknown[] }) {
        return this._queue.length;
      },
    });
  for (const writer of ['defineCommand', 'addBuiltinCommand'] as const) {
    const write = commands[writer];
    commands[writer] = function reshaping(this: object, ...args: unknown[]) {
      shapes.delete(this);
      return write.apply(this, args);
    };
  }
  let checked = false;
  function LeanPipeline(redis: PipelineClient): Fields {
    const self = new (shapeOf(redis, Original, Commander))(redis);
    if (!checked) {
      checked = true;
      if (!sameFields(self, new Original(redis))) {
        mod.default = Original;
        installed = 'refused';
        return new Original(redis);
      }
    }
    return self;
  }
  LeanPipeline.prototype = Original.prototype;
  mod.default = LeanPipeline as unknown as PipelineConstructor;
  installed = 'yes';
}

/**
 * The client's shape: a class (a real one, so V8 lays its fields out in the object) whose
 * instances have what ioredis 5.11's Pipeline constructor sets, less `length` and the functions,
 * which sit on its prototype; that prototype's own prototype is Pipeline's.
 */
function shapeOf(
  redis: PipelineClient,
  Original: PipelineConstructor,
  Commander: CommanderConstructor,
): Shape {
  const known = shapes.get(redis);
  if (known) return known;
  const fns = redis as unknown as Fields;
  const shaToScript: Fields = {};
  const isCluster = redis.constructor.name === 'Cluster' || Boolean(redis.isCluster);
  const Base = Commander as unknown as new () => Fields;
  class LeanShapedPipeline extends Base {
    constructor(client: PipelineClient) {
      super();
      this.redis = client;
      this.isPipeline = true;
      this.replyPending = 0;
      this._queue = [];
      this._result = [];
      this._transactions = 0;
      this._shaToScript = shaToScript;
      this.isCluster = isCluster;
      this.options = client.options;
      this.promise = new Promise((resolve, reject) => {
        this.resolve = resolve;
        this.reject = reject;
      });
    }
  }
  const proto = LeanShapedPipeline.prototype as unknown as Fields;
  Object.setPrototypeOf(proto, Original.prototype);
  // `pipeline.constructor` stays ioredis' Pipeline, as callers saw it before.
  Object.defineProperty(proto, 'constructor', { value: Original, writable: true, configurable: true });
  const copy = (name: string) => {
    proto[name] = fns[name];
    proto[`${name}Buffer`] = fns[`${name}Buffer`];
  };
  for (const name of Object.keys(redis.scriptsSet)) {
    shaToScript[redis.scriptsSet[name]!.sha] = redis.scriptsSet[name];
    copy(name);
  }
  for (const name of redis.addedBuiltinSet) copy(name);
  shapes.set(redis, LeanShapedPipeline);
  return LeanShapedPipeline;
}

/** Same fields (a lean pipeline's own and its shape's; ioredis' `length` aside), each of the same kind. */
function sameFields(lean: Fields, original: Fields): boolean {
  const shape = Object.getPrototypeOf(lean) as Fields;
  const value = (k: string) => (Object.hasOwn(lean, k) ? lean[k] : shape[k]);
  const a = [...Object.keys(lean), ...Object.keys(shape)].sort();
  const b = Object.keys(original)
    .filter((k) => k !== 'length')
    .sort();
  return a.length === b.length && a.every((k, i) => k === b[i] && typeof value(k) === typeof original[k]);
}

function loadModule<T>(id: string): T | undefined {
  try {
    return require(id) as T;
  } catch {
    return undefined;
  }
}
