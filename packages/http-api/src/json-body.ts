/**
 * The API's JSON body parser: before JSON.parse, one linear scan of the body (outside strings)
 * refuses with a 400 a nesting deeper than MAX_JSON_DEPTH or more structural tokens (`{ [ , :`)
 * than MAX_JSON_TOKENS, the most any route's schema can use. So a hostile body (15M `[`, 1.5M keys
 * in `headers`) costs one pass over its bytes, never a parse into millions of objects that holds
 * the event loop and GBs of memory; a body within the bounds is parsed by fastify's own parser
 * (prototype poisoning refused). Every JSON route goes through it (one parser for
 * application/json).
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';
import { MAX_ATTACHMENTS, MAX_EXTRA_HEADERS, MAX_METADATA_ENTRIES } from './routes/messages.js';
import { MAX_RECIPIENTS_PER_REQUEST } from './schemas.js';

/**
 * Deepest nesting a route's body has: the send body's `dsn.orcpt` and `attachments[].{}` are 3
 * levels (object → object/array → object); 2 more levels of room.
 */
export const MAX_JSON_DEPTH = 5;

/** Recipient lists of the send body: to, cc, bcc. */
const RECIPIENT_LISTS = 3;
/** Tokens of one name → value pair (`:` and `,`). */
const PAIR_TOKENS = 2;
/** Tokens of one attachment object: `{`, 3 × (`:` `,`), and the `,` before it. */
const ATTACHMENT_TOKENS = 8;
/** The send body's own fields and containers (it has 18 fields), with room. */
const TOP_LEVEL_TOKENS = 64;

/**
 * The most structural tokens a valid body can hold: the send body at every cap (recipients in
 * to, cc and bcc with an ORCPT each, headers, metadata, attachments). Every other route's body
 * is far smaller (a queue filter's 1,000 domains the largest).
 */
export const MAX_JSON_TOKENS =
  RECIPIENT_LISTS * MAX_RECIPIENTS_PER_REQUEST * (1 + PAIR_TOKENS) +
  MAX_EXTRA_HEADERS * PAIR_TOKENS +
  MAX_METADATA_ENTRIES * PAIR_TOKENS +
  MAX_ATTACHMENTS * ATTACHMENT_TOKENS +
  TOP_LEVEL_TOKENS;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Why `text` is refused before parsing, or undefined: one pass, stopping at the first excess. */
export function jsonShapeRefusal(
  text: string,
  limits = { depth: MAX_JSON_DEPTH, tokens: MAX_JSON_TOKENS },
): string | undefined {
  let depth = 0;
  let tokens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      tokens++;
      if (++depth > limits.depth) return `JSON body nested deeper than ${limits.depth} levels`;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if (c === COMMA || c === COLON) tokens++;
    else continue;
    if (tokens > limits.tokens)
      return `JSON body has more than ${limits.tokens} structural tokens ({ [ , :): more than any request needs`;
  }
  return undefined;
}

/**
 * The index of the quote closing the string opened at `open` (the end of `text` if none): the
 * next quote not escaped by an odd run of backslashes. indexOf skips the string's bytes at native
 * speed; each backslash run is counted once, so the scan stays linear.
 */
function stringEnd(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return text.length;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

/** What a body with a prototype-poisoning key is told. */
export const PROTOTYPE_KEY_REFUSAL = 'a JSON body may not hold a __proto__ or constructor.prototype key';

/** Whether `text` parses as JSON (only asked of a body the bounded scan let through). */
function isValidJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Replaces fastify's application/json parser with the bounded one (before routes are added). */
export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const refusal = jsonShapeRefusal(body as string);
    if (refusal) {
      done(new ApiError(400, 'HERALD_API_BAD_REQUEST', refusal), undefined);
      return;
    }
    parse(request, body as string, (err, value) => {
      if (err && isValidJson(body as string)) {
        // Valid JSON that fastify's parser refused: a __proto__ or constructor.prototype key.
        done(new ApiError(400, 'HERALD_API_BAD_REQUEST', PROTOTYPE_KEY_REFUSAL), undefined);
        return;
      }
      done(err, value);
    });
  });
}
