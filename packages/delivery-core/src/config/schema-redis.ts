/**
 * The `redis` section: one server (`url`, a redis:// or rediss:// URL, REDIS_URL overrides it) or
 * a Redis Cluster (`cluster`, seed nodes as `host:port` or URLs: a URL's password, user name and
 * rediss:// TLS apply to every node, so every seed that is a URL must carry the same ones). The
 * two are exclusive; with neither, `url` is the local default. `prefix` applies to both.
 * Parsed to `{url}` or `{cluster}` (exactly one set) plus `prefix`; redis-connect.ts turns that
 * into a connection.
 */
import { z } from 'zod';
import { parseHostPort } from './addresses.js';
import { oneOf, section, text } from './fields.js';

export const DURABILITY_MODES = ['fast', 'strict'] as const;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_PORT = 6379;
const URL_HINT = 'expected a redis:// or rediss:// URL';
const SEED_HINT = 'expected a seed node as host:port or a redis:// or rediss:// URL';
const REDIS_URL = /^rediss?:\/\/\S*$/;

/** `/<db>` of a redis.url: empty, `/`, or a database number (ioredis SELECTs it as written). */
const DATABASE_PATH = /^(\/(0|[1-9][0-9]{0,8})?)?$/;
const DB_HINT = 'expected a database number after the port (redis://host:port/<0, 1, …>)';
const ESCAPE_HINT =
  'expected the user name and password percent-encoded (each "%" starts a %XX escape of UTF-8: write a literal "%" as %25)';

/** Whether a URL's user name and password decode (redis-connect.ts and ioredis decodeURIComponent them). */
function credentialsDecode(url: URL): boolean {
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return true;
  } catch {
    return false;
  }
}

const urlField = z
  .string({ error: URL_HINT })
  .regex(REDIS_URL, { error: URL_HINT })
  .refine((url) => URL.canParse(url), { error: URL_HINT })
  // A `/abc` or `/1.5` would pass here and then crash the relay at its first SELECT.
  .refine((url) => !URL.canParse(url) || DATABASE_PATH.test(new URL(url).pathname), {
    error: DB_HINT,
  })
  // A `%ZZ` in the password would pass here and then crash the relay (URI malformed) at start.
  .refine((url) => !URL.canParse(url) || credentialsDecode(new URL(url)), { error: ESCAPE_HINT });

/** Most seed nodes `redis.cluster` takes: seeds are only where discovery starts. */
export const MAX_CLUSTER_SEEDS = 64;

function isSeed(seed: string): boolean {
  if (REDIS_URL.test(seed)) return URL.canParse(seed) && new URL(seed).hostname !== '';
  try {
    parseHostPort(seed, DEFAULT_REDIS_PORT);
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with a seed URL that parses, or undefined (a cluster ignores a database and options). */
function seedUrlProblem(seed: string): string | undefined {
  const url = new URL(seed);
  if (url.port === '0') return 'expected a port between 1 and 65535, got 0';
  if (!credentialsDecode(url)) return ESCAPE_HINT;
  if (url.pathname !== '' && url.pathname !== '/')
    return 'a Redis Cluster has only database 0: drop the /<db> from the seed URL';
  if (url.search !== '' || url.hash !== '')
    return 'a seed URL takes no ?options or #fragment (use rediss:// for TLS)';
  return undefined;
}

/** What a seed says besides its address: scheme and credentials (never shown: compared only). */
function seedAccess(seed: string): string {
  if (!REDIS_URL.test(seed)) return 'plain';
  const url = new URL(seed);
  return JSON.stringify([url.protocol, url.username, url.password]);
}

const clusterField = z
  .array(z.string({ error: SEED_HINT }).refine(isSeed, { error: SEED_HINT }), {
    error: 'expected a list of seed nodes (host:port)',
  })
  .min(1, { error: 'expected at least one seed node' })
  .max(MAX_CLUSTER_SEEDS, {
    error: `expected at most ${MAX_CLUSTER_SEEDS} seed nodes (the cluster tells Herald the rest)`,
  })
  .superRefine((seeds, ctx) => {
    // Seeds that are not valid URLs have their own issue (zod checks the list even then).
    const urls = seeds.map((s, i) => ({ s, i })).filter(({ s }) => REDIS_URL.test(s) && isSeed(s));
    for (const { s, i } of urls) {
      const problem = seedUrlProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
    }
    const first = urls[0];
    if (!first) return;
    for (const { s, i } of urls.slice(1)) {
      if (seedAccess(s) !== seedAccess(first.s)) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `every seed URL must use the same scheme, user and password as seed ${first.i}`,
        });
      }
    }
  });

export const EXCLUSIVE_REDIS_MESSAGE = 'redis.cluster and redis.url are exclusive: give one of them';

export const redisSchema = section({
  /** One Redis server. REDIS_URL in the environment overrides this. Default DEFAULT_REDIS_URL. */
  url: urlField.optional(),
  /** Seed nodes of a Redis Cluster (exclusive with url). */
  cluster: clusterField.optional(),
  /** Key prefix for everything Herald stores. */
  prefix: text().default('herald'),
  /**
   * When a 250 / 202 / send() resolve may be given: `fast` once Redis acknowledged the enqueue
   * (AOF everysec: a crash can lose about a second), `strict` once it is also on disk or on a
   * replica (queue/durability.ts).
   */
  durability: oneOf(DURABILITY_MODES).default('fast'),
})
  .superRefine((redis, ctx) => {
    if (redis.url !== undefined && redis.cluster !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: EXCLUSIVE_REDIS_MESSAGE });
    }
  })
  .transform((redis) =>
    redis.cluster === undefined
      ? { url: redis.url ?? DEFAULT_REDIS_URL, prefix: redis.prefix, durability: redis.durability }
      : { cluster: redis.cluster, prefix: redis.prefix, durability: redis.durability },
  );
