/**
 * `herald bench ...`: loads the bench module (apps/cli/src/bench, written separately) on demand
 * and hands it the arguments, --help included. A build without it reports that, exit 1.
 */
import { CliExit, type Command, EXIT_FAILURE } from '../command.js';

/** Relative to this file; a variable so the CLI typechecks and runs before the module exists. */
const BENCH_MODULE = '../bench/index.js';

interface BenchModule {
  runBench?: (argv: string[]) => Promise<number>;
}

function isBenchMissing(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return e?.code === 'ERR_MODULE_NOT_FOUND' && /bench[\\/]index/.test(String(e.message));
}

async function loadBench(): Promise<NonNullable<BenchModule['runBench']>> {
  let mod: BenchModule;
  try {
    mod = (await import(BENCH_MODULE)) as BenchModule;
  } catch (err) {
    if (isBenchMissing(err))
      throw new CliExit(EXIT_FAILURE, 'HERALD_NOT_AVAILABLE', 'bench: not available in this build');
    throw err;
  }
  if (typeof mod.runBench !== 'function') {
    throw new CliExit(
      EXIT_FAILURE,
      'HERALD_NOT_AVAILABLE',
      'bench: the bench module does not export runBench',
    );
  }
  return mod.runBench;
}

export const benchCommand: Command = {
  name: 'bench',
  synopsis: '[options]',
  summary: 'benchmark a relay (see herald bench --help)',
  help: 'Usage: herald bench [options]\n\nBenchmark a Herald relay; run `herald bench --help` for its options.',
  ownsHelp: true,
  async run(args) {
    const runBench = await loadBench();
    return runBench(args);
  },
};
