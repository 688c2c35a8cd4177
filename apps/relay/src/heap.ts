/**
 * The relay's young generation (V8's heap for new objects). The relay allocates ≈ 80 KB per
 * message on each of its two threads, nearly all of it dead within the message's round trip; with
 * V8's default semi-space (16 MB) a thread scavenged every 70–100 ms under load and spent
 * 600–800 ms per GB allocated in scavenges, with 32 MB 400–460 and with 64 MB 300–390
 * (docs/benchmarks.md). A scavenge costs what survives it — the messages in flight — not what
 * died, so a larger semi-space means fewer of them at about the same cost each; memory is
 * committed only as far as the allocation rate grows it. 32 MB takes most of the gain for at most
 * ≈ 64 MB more per thread.
 * - `RELAY_NODE_FLAGS`: for the main thread, given to Node on its command line by whatever starts
 *   the relay (`npm start`, `npm run herald`, the bench, the Docker image, the Kubernetes
 *   manifest); V8 reads it only when the process starts (`v8.setFlagsFromString` later does not
 *   resize the heap), and the bin's shebang cannot carry it portably.
 * - `DELIVERY_THREAD_YOUNG_GENERATION_MB`: for the delivery thread, set by thread-host.ts through
 *   the Worker's `resourceLimits`, so an embedding service gets it without any flag.
 */

/** Semi-space size (MB) the relay runs with. */
export const RELAY_SEMI_SPACE_MB = 32;

/** V8 sizes a young generation at three semi-spaces (two, plus the new large-object space). */
export const DELIVERY_THREAD_YOUNG_GENERATION_MB = 3 * RELAY_SEMI_SPACE_MB;

/** Node flags for a process that runs the relay. */
export const RELAY_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${RELAY_SEMI_SPACE_MB}`];
