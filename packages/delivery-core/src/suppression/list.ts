/**
 * SuppressionList: the per-tenant lists in Redis. Writes go through one Lua script (atomic
 * across relays, and a longer-lasting entry is never shortened unless asked); `check` is one
 * HMGET for any number of addresses; expired soft entries are ignored on read and purged on write.
 */

import { type SuppressionKeys, suppressionKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import {
  decodeStored,
  encodeStored,
  isCurrent,
  normalizeAddress,
  type SuppressionEntry,
  type SuppressionInput,
  type SuppressionSource,
  toEntry,
} from './entries.js';
import { type CsvOutput, exportCsv, type ImportResult, importCsv } from './transfer.js';

/** Expired entries removed per write (the rest go with later writes). */
const PURGE_BATCH = 100;
/** Entries per script call in addMany (bounded Lua argument lists). */
const WRITE_BATCH = 500;
const DEFAULT_PAGE = 100;

/**
 * KEYS[1] entries hash, KEYS[2] expiry zset. ARGV[1] now (epoch ms), ARGV[2] replace (1/0),
 * ARGV[3] purge batch, then triples (address, stored JSON, expiresAt or '' for never).
 * First removes up to ARGV[3] expired entries. Then per address: unless replace, an entry still
 * current that lasts at least as long (no expiry, or a later one) is kept; otherwise the new one
 * is written and its expiry set (or cleared). Returns the number of addresses written.
 */
export const SUPPRESS_ADD_LUA = `
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
if #expired > 0 then
  redis.call('HDEL', KEYS[1], unpack(expired))
  redis.call('ZREM', KEYS[2], unpack(expired))
end
local written = 0
for i = 4, #ARGV, 3 do
  local address, value, expires = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local keep = false
  if ARGV[2] ~= '1' and redis.call('HEXISTS', KEYS[1], address) == 1 then
    local old = redis.call('ZSCORE', KEYS[2], address)
    if not old then
      keep = true
    elseif tonumber(old) > now and expires ~= '' and tonumber(old) >= tonumber(expires) then
      keep = true
    end
  end
  if not keep then
    redis.call('HSET', KEYS[1], address, value)
    if expires == '' then
      redis.call('ZREM', KEYS[2], address)
    else
      redis.call('ZADD', KEYS[2], expires, address)
    end
    written = written + 1
  end
end
return written`;

export type { SuppressionKeys };
export { suppressionKeys };

export interface AddOptions {
  /** Overwrite an existing entry even when it lasts longer (an operator's `add`). Default false. */
  replace?: boolean;
}

export interface AddManyResult {
  /** Entries written. */
  written: number;
  /** Entries left as they were: the address was already suppressed for at least as long. */
  kept: number;
  /** Inputs refused, by index: invalid address, reason or source. */
  invalid: { index: number; problem: string }[];
}

export interface SuppressionPage {
  /** '0' when the scan is complete. */
  cursor: string;
  entries: SuppressionEntry[];
}

type AddScript = (entries: string, expiries: string, ...argv: (string | number)[]) => Promise<number>;

export class SuppressionList {
  readonly keys: SuppressionKeys;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    options: { now?: () => number } = {},
  ) {
    this.keys = suppressionKeys(prefix);
    this.now = options.now ?? Date.now;
    redis.defineCommand('heraldSuppressAdd', { numberOfKeys: 2, lua: SUPPRESS_ADD_LUA });
  }

  /** Adds one address; true when written (false: already suppressed for at least as long). */
  async add(tenant: string, input: SuppressionInput, options: AddOptions = {}): Promise<boolean> {
    const result = await this.addMany(tenant, [input], options);
    const invalid = result.invalid[0];
    if (invalid) throw new TypeError(invalid.problem);
    return result.written === 1;
  }

  /** Adds many addresses, WRITE_BATCH per round trip; invalid inputs are reported, not thrown. */
  async addMany(
    tenant: string,
    inputs: readonly SuppressionInput[],
    options: AddOptions = {},
  ): Promise<AddManyResult> {
    const now = this.now();
    const result: AddManyResult = { written: 0, kept: 0, invalid: [] };
    const valid: SuppressionEntry[] = [];
    inputs.forEach((input, index) => {
      const entry = toEntry(input, now);
      if (typeof entry === 'string') result.invalid.push({ index, problem: entry });
      else valid.push(entry);
    });
    const run = (this.redis as unknown as Record<string, AddScript>).heraldSuppressAdd!;
    for (let i = 0; i < valid.length; i += WRITE_BATCH) {
      const batch = valid.slice(i, i + WRITE_BATCH);
      const argv: (string | number)[] = [now, options.replace ? 1 : 0, PURGE_BATCH];
      for (const entry of batch) argv.push(entry.address, encodeStored(entry), entry.expiresAt ?? '');
      const written = await run.call(
        this.redis,
        this.keys.entries(tenant),
        this.keys.expiries(tenant),
        ...argv,
      );
      result.written += written;
      result.kept += batch.length - written;
    }
    return result;
  }

  /** Removes an address; true when it was on the list. */
  async remove(tenant: string, address: string): Promise<boolean> {
    const key = normalizeAddress(address);
    const results = await this.redis
      .multi()
      .hdel(this.keys.entries(tenant), key)
      .zrem(this.keys.expiries(tenant), key)
      .exec();
    return Number(results?.[0]?.[1] ?? 0) > 0;
  }

  /**
   * The current entries among `addresses` (one HMGET, whatever their number), keyed by the
   * address as given. Expired soft entries do not count.
   */
  async check(tenant: string, addresses: readonly string[]): Promise<Map<string, SuppressionEntry>> {
    const found = new Map<string, SuppressionEntry>();
    if (addresses.length === 0) return found;
    const fields = addresses.map(normalizeAddress);
    const values = await this.redis.hmget(this.keys.entries(tenant), ...fields);
    const now = this.now();
    values.forEach((value, i) => {
      if (value === null) return;
      const entry = decodeStored(fields[i]!, value);
      if (entry && isCurrent(entry, now)) found.set(addresses[i]!, entry);
    });
    return found;
  }

  /** One page of the list (HSCAN: no order, an entry may repeat across pages); expired ones left out. */
  async list(tenant: string, page: { cursor?: string; count?: number } = {}): Promise<SuppressionPage> {
    const [cursor, flat] = await this.redis.hscan(
      this.keys.entries(tenant),
      page.cursor ?? '0',
      'COUNT',
      page.count ?? DEFAULT_PAGE,
    );
    const now = this.now();
    const entries: SuppressionEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const entry = decodeStored(flat[i]!, flat[i + 1]!);
      if (entry && isCurrent(entry, now)) entries.push(entry);
    }
    return { cursor, entries };
  }

  /** Current entries (expired ones not purged yet are not counted). */
  async count(tenant: string): Promise<number> {
    const results = await this.redis
      .multi()
      .hlen(this.keys.entries(tenant))
      .zcount(this.keys.expiries(tenant), '-inf', this.now())
      .exec();
    return Number(results?.[0]?.[1] ?? 0) - Number(results?.[1]?.[1] ?? 0);
  }

  /**
   * Every current entry, page by page, in bounded memory. An entry may come twice if the hash is
   * resized during the scan (HSCAN's guarantee); adding it again is a no-op.
   */
  async *entries(tenant: string, pageSize = DEFAULT_PAGE * 10): AsyncGenerator<SuppressionEntry> {
    let cursor = '0';
    do {
      const page = await this.list(tenant, { cursor, count: pageSize });
      cursor = page.cursor;
      yield* page.entries;
    } while (cursor !== '0');
  }

  /** Writes the tenant's current entries as CSV (transfer.ts); resolves with the row count. */
  exportCsv(tenant: string, out: CsvOutput): Promise<number> {
    return exportCsv(this, tenant, out);
  }

  /** Imports CSV rows into the tenant's list (transfer.ts); bad lines are reported, not thrown. */
  importCsv(
    tenant: string,
    input: AsyncIterable<string | Buffer>,
    options: { source?: SuppressionSource; now?: number } = {},
  ): Promise<ImportResult> {
    return importCsv(this, tenant, input, options);
  }
}
