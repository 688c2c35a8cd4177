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

/** A client's pipelines' prototype (its scripts and added commands) and the `new.target` for it. */
interface Shape {
  target: () => void;
  shaToScript: Fields;
}

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
    const self = build(redis, Commander, shapeOf(redis, Original));
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

/** The client's shape: its scripts' and added commands' functions on a prototype of their own. */
function shapeOf(redis: PipelineClient, Original: PipelineConstructor): Shape {
  const known = shapes.get(redis);
  if (known) return known;
  const fns = redis as unknown as Fields;
  const proto = Object.create(Original.prototype) as Fields;
  const shaToScript: Fields = {};
  const copy = (name: string) => {
    proto[name] = fns[name];
    proto[`${name}Buffer`] = fns[`${name}Buffer`];
  };
  for (const name of Object.keys(redis.scriptsSet)) {
    shaToScript[redis.scriptsSet[name]!.sha] = redis.scriptsSet[name];
    copy(name);
  }
  for (const name of redis.addedBuiltinSet) copy(name);
  const target = function ShapedPipeline() {};
  target.prototype = proto;
  const shape = { target, shaToScript };
  shapes.set(redis, shape);
  return shape;
}

/** What ioredis 5.11's Pipeline constructor sets on each pipeline, less `length` and the functions. */
function build(redis: PipelineClient, Commander: CommanderConstructor, shape: Shape): Fields {
  const self = Reflect.construct(Commander, [], shape.target) as Fields;
  self.redis = redis;
  self.isPipeline = true;
  self.replyPending = 0;
  self._queue = [];
  self._result = [];
  self._transactions = 0;
  self._shaToScript = shape.shaToScript;
  self.isCluster = redis.constructor.name === 'Cluster' || Boolean(redis.isCluster);
  self.options = redis.options;
  self.promise = new Promise((resolve, reject) => {
    self.resolve = resolve;
    self.reject = reject;
  });
  return self;
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
