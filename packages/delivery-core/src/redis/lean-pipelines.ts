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
 * `useLeanPipelines()` makes ioredis build its pipelines with the same fields and the same
 * prototype, `length` a getter on that prototype. Touchpoint: the `default` export of
 * `ioredis/built/Pipeline.js`, which `redis.pipeline()` and `redis.multi()` (transaction.js)
 * read at every `new`, and the fields its constructor sets. The first pipeline built here is
 * compared with one ioredis builds for the same client: if their fields differ (another ioredis),
 * ioredis' own constructor is put back and nothing else changes.
 */
import { createRequire } from 'node:module';

interface PipelineClient {
  options: unknown;
  isCluster?: boolean;
  scriptsSet: Record<string, { sha: string }>;
  addedBuiltinSet: Set<string>;
  constructor: { name: string };
}

type PipelineConstructor = new (redis: PipelineClient) => Record<string, unknown>;

interface PipelineModule {
  default: PipelineConstructor;
}

const require = createRequire(import.meta.url);

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
  const commander = loadModule<{ default: new () => object }>('ioredis/built/utils/Commander.js');
  if (typeof found?.default !== 'function' || typeof commander?.default !== 'function') return;
  const mod: PipelineModule = found;
  const Original: PipelineConstructor = found.default;
  const Commander: new () => object = commander.default;
  if (!/defineProperty\(this,\s*"length"/.test(Function.prototype.toString.call(Original))) return;
  if (Object.getOwnPropertyDescriptor(Original.prototype, 'length') === undefined)
    Object.defineProperty(Original.prototype, 'length', {
      configurable: true,
      get(this: { _queue: unknown[] }) {
        return this._queue.length;
      },
    });
  let checked = false;
  function LeanPipeline(redis: PipelineClient): Record<string, unknown> {
    const self = build(redis, Commander, LeanPipeline);
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

/** What ioredis 5.11's Pipeline constructor sets, less the per-instance `length`. */
function build(
  redis: PipelineClient,
  Commander: new () => object,
  target: (redis: PipelineClient) => Record<string, unknown>,
): Record<string, unknown> {
  const self = Reflect.construct(Commander, [], target) as Record<string, unknown>;
  const redisFns = redis as unknown as Record<string, unknown>;
  const shaToScript: Record<string, unknown> = {};
  self.redis = redis;
  self.isPipeline = true;
  self.replyPending = 0;
  self._queue = [];
  self._result = [];
  self._transactions = 0;
  self._shaToScript = shaToScript;
  self.isCluster = redis.constructor.name === 'Cluster' || Boolean(redis.isCluster);
  self.options = redis.options;
  for (const name of Object.keys(redis.scriptsSet)) {
    const script = redis.scriptsSet[name]!;
    shaToScript[script.sha] = script;
    self[name] = redisFns[name];
    self[`${name}Buffer`] = redisFns[`${name}Buffer`];
  }
  for (const name of redis.addedBuiltinSet) {
    self[name] = redisFns[name];
    self[`${name}Buffer`] = redisFns[`${name}Buffer`];
  }
  self.promise = new Promise((resolve, reject) => {
    self.resolve = resolve;
    self.reject = reject;
  });
  return self;
}

/** Same own fields (ioredis' `length` aside), each of the same kind. */
function sameFields(lean: Record<string, unknown>, original: Record<string, unknown>): boolean {
  const keys = (o: object) =>
    Object.keys(o)
      .filter((k) => k !== 'length')
      .sort();
  const a = keys(lean);
  const b = keys(original);
  return a.length === b.length && a.every((k, i) => k === b[i] && typeof lean[k] === typeof original[k]);
}

function loadModule<T>(id: string): T | undefined {
  try {
    return require(id) as T;
  } catch {
    return undefined;
  }
}
