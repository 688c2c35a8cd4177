/**
 * Keys of the event stream's own consumers (the accounting log, the webhook dispatcher, ...): each
 * keeps its position in the stream under its name, used alone (no hash tag). Pure key math.
 */

/** The last stream id a named consumer has finished with (string, no expiry). */
export function streamCursorKey(prefix: string, consumer: string): string {
  return `${prefix}:cursor:${consumer}`;
}
