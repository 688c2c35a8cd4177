/**
 * A received message in one buffer with free room in front of it, so that the header fields
 * Herald puts on top (Received, Message-ID, Date, List-Unsubscribe, DKIM-Signature) are written
 * into that room instead of copying the whole message once per addition: a 50 MB message would
 * otherwise be copied three or four times at intake.
 * - `joinWithHeadroom(chunks, total)`: the chunks copied once into a buffer with HEADROOM_BYTES
 *   free in front (a plain Buffer.concat below HEADROOM_MIN_MESSAGE_BYTES, where a copy is cheap).
 * - `MessageCollector`: gathers a DATA transfer's chunks. With a size declared at MAIL FROM
 *   (`SIZE=`), once a quarter of it has arrived it allocates the whole (with the room) and copies
 *   every chunk in as it comes, so the chunks are never all held next to the joined copy (2× the
 *   message at the end of data otherwise); a client declaring more than it sends makes it
 *   allocate at most 4× what it sent. More data than declared falls back to joining.
 * - `prepend(prefix, body)`: prefix + body, written into the room in front of `body` when `body`
 *   is the frontmost view of such a buffer and the prefix fits; otherwise a new buffer (concat).
 * - A message of SHARED_MIN_MESSAGE_BYTES or more lives in a SharedArrayBuffer (`isShared`), so
 *   the relay's fast lane hands it to a delivery thread without copying it (a 50 MB message was
 *   otherwise held twice in the relay, once per thread, until the intake's copy was collected).
 *   Nothing writes to a message after it is spooled, so sharing it is safe.
 * Guarantees: bytes in front of a view are written only once, and only in a buffer made here:
 * the registry keeps, per buffer, where its frontmost view starts, and `prepend` on any other
 * view (an older one, a slice) copies. The result may share memory with `body`; `body` itself
 * still reads the same bytes.
 */

/** Room for the fields added on top: a Received, Message-ID and Date, List-Unsubscribe, DKIM. */
export const HEADROOM_BYTES = 16 * 1024;
/** Below this a message is joined by a plain copy (cheap), as any Buffer.concat. */
export const HEADROOM_MIN_MESSAGE_BYTES = 64 * 1024;

/** From this size on, a message is allocated in shared memory (`isShared`). */
export const SHARED_MIN_MESSAGE_BYTES = 1024 * 1024;

/** A buffer of `bytes` for a joined message: shared memory when large (not zero-filled otherwise). */
function allocateWhole(bytes: number): Buffer {
  return bytes >= SHARED_MIN_MESSAGE_BYTES
    ? Buffer.from(new SharedArrayBuffer(bytes))
    : Buffer.allocUnsafeSlow(bytes);
}

/** Whether `body`'s memory is shared (a view may then be posted to a thread without a copy). */
export const isShared = (body: Uint8Array): boolean => body.buffer instanceof SharedArrayBuffer;

/** Per buffer made by joinWithHeadroom: the offset of its frontmost view's first byte. */
const fronts = new WeakMap<ArrayBufferLike, number>();

/** `total`: the chunks' summed length. */
export function joinWithHeadroom(chunks: readonly Uint8Array[], total: number): Buffer {
  if (total < HEADROOM_MIN_MESSAGE_BYTES) return Buffer.concat(chunks, total);
  const whole = allocateWhole(HEADROOM_BYTES + total);
  let at = HEADROOM_BYTES;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  const body = whole.subarray(HEADROOM_BYTES, HEADROOM_BYTES + total);
  fronts.set(whole.buffer, body.byteOffset);
  return body;
}

export function prepend(prefix: Uint8Array, body: Buffer): Buffer {
  const front = fronts.get(body.buffer);
  if (front === undefined || front !== body.byteOffset || prefix.length > body.byteOffset)
    return Buffer.concat([prefix, body]);
  const start = body.byteOffset - prefix.length;
  const joined = Buffer.from(body.buffer, start, prefix.length + body.length);
  joined.set(prefix, 0);
  fronts.set(body.buffer, start);
  return joined;
}

/** A declared size is allocated once this share of it (1 / n) has arrived. */
const DECLARED_ALLOCATE_AT_DIVISOR = 4;

export class MessageCollector {
  private chunks: Buffer[] = [];
  private whole: Buffer | undefined;
  private received = 0;

  /** `declaredBytes`: the client's SIZE= (already within the listener's limit), if any. */
  constructor(private readonly declaredBytes?: number) {}

  get bytes(): number {
    return this.received;
  }

  push(chunk: Buffer): void {
    const declared = this.declaredBytes;
    const end = this.received + chunk.length;
    if (this.whole && end <= declared!) this.whole.set(chunk, HEADROOM_BYTES + this.received);
    else if (this.whole) {
      // More than declared: what was copied becomes one chunk, and the rest is joined at the end.
      this.chunks = [this.whole.subarray(HEADROOM_BYTES, HEADROOM_BYTES + this.received), chunk];
      this.whole = undefined;
    } else this.chunks.push(chunk);
    this.received = end;
    if (
      declared !== undefined &&
      !this.whole &&
      this.chunks.length > 0 &&
      declared >= HEADROOM_MIN_MESSAGE_BYTES &&
      end <= declared &&
      end * DECLARED_ALLOCATE_AT_DIVISOR >= declared
    ) {
      this.whole = allocateWhole(HEADROOM_BYTES + declared);
      let at = HEADROOM_BYTES;
      for (const held of this.chunks) {
        this.whole.set(held, at);
        at += held.length;
      }
      this.chunks = [];
    }
  }

  /** Forgets what was collected (a transfer over the listener's SIZE keeps nothing). */
  drop(): void {
    this.chunks = [];
    this.whole = undefined;
    this.received = 0;
  }

  /** The message, with room in front when large; the collector then holds nothing. */
  finish(): Buffer {
    const { whole, chunks, received } = this;
    this.drop();
    if (!whole) return joinWithHeadroom(chunks, received);
    const body = whole.subarray(HEADROOM_BYTES, HEADROOM_BYTES + received);
    fronts.set(whole.buffer, body.byteOffset);
    return body;
  }
}
