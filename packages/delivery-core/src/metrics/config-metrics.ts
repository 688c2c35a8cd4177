/**
 * The config version a process runs and how its reloads went, for a rolling change to be
 * visible: `herald_config_info{hash} 1` (one series, the running version),
 * `herald_config_reload_failures_total`, `herald_config_last_reload_success` (1 after a reload
 * that applied or at start, 0 after one that failed and kept the running config) and
 * `herald_config_reloads_total`. Also the `/readyz` body's `config` object.
 * Needs injected: the registry to register in.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What `/readyz` says of the config (`lastReload` absent until a reload was asked for). */
export interface ConfigStatus {
  hash: string;
  reloads: number;
  failures: number;
  lastReload?: { ok: boolean; at: string; needsRestart: string[]; error?: string | undefined };
  /** The relay's delivery threads, as each answered the last reload (absent before one). */
  threads?: { thread: number; ok: boolean; hash: string }[];
}

export class ConfigMetrics {
  private readonly info: Gauge<'hash'>;
  private readonly failures: Counter;
  private readonly lastSuccess: Gauge;
  private readonly reloads: Counter;
  private state: ConfigStatus = { hash: '', reloads: 0, failures: 0 };

  constructor(registry: Registry) {
    const registers = [registry];
    this.info = new Gauge({
      name: 'herald_config_info',
      help: 'The config version this process runs: a short SHA-256 of the effective config and the files it reads',
      labelNames: ['hash'],
      registers,
    });
    this.failures = new Counter({
      name: 'herald_config_reload_failures_total',
      help: 'Config reloads refused (an invalid file): the running config was kept',
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'herald_config_last_reload_success',
      help: '1 when the last reload applied (or none was asked since start), 0 when it failed',
      registers,
    });
    this.reloads = new Counter({
      name: 'herald_config_reloads_total',
      help: 'Config reloads asked for (SIGHUP or herald config reload), applied or not',
      registers,
    });
    this.lastSuccess.set(1);
  }

  /** The version running now (at start and after each applied reload). */
  running(hash: string): void {
    this.info.reset();
    this.info.set({ hash }, 1);
    this.state = { ...this.state, hash };
  }

  reloaded(needsRestart: readonly string[]): void {
    this.reloads.inc();
    this.lastSuccess.set(1);
    this.state = {
      ...this.state,
      reloads: this.state.reloads + 1,
      lastReload: { ok: true, at: new Date().toISOString(), needsRestart: [...needsRestart] },
    };
  }

  /** `error`: the reason as logged (key paths, never a value of a secret). */
  failed(error: string): void {
    this.reloads.inc();
    this.failures.inc();
    this.lastSuccess.set(0);
    this.state = {
      ...this.state,
      reloads: this.state.reloads + 1,
      failures: this.state.failures + 1,
      lastReload: { ok: false, at: new Date().toISOString(), needsRestart: [], error },
    };
  }

  /** What each delivery thread answered to the last reload (the relay's thread-host). */
  threadsRun(threads: readonly { thread: number; ok: boolean; hash: string }[]): void {
    this.state = { ...this.state, threads: threads.map(({ thread, ok, hash }) => ({ thread, ok, hash })) };
  }

  status(): ConfigStatus {
    return this.state;
  }
}
