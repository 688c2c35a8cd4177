/** Where redis-server is looked for after PATH. */
export declare const REDIS_SEARCH_DIRS: readonly string[];
/** The redis-server binary on PATH or in REDIS_SEARCH_DIRS, or null. */
export declare function findRedisServer(env?: Record<string, string | undefined>): string | null;
/** What to tell a user without redis-server (several lines, no trailing newline). */
export declare function redisInstallHint(): string;
