/** Types of start-lock.mjs: the one-`npm start`-per-checkout PID file in `.herald/`. */
export declare const LOCK_FILE: string;
export type StartLock = { ok: true; release(): void } | { ok: false; pid: number };
export declare function acquireStartLock(dir: string, pid?: number): StartLock;
