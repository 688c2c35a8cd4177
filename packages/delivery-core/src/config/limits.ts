/**
 * Limits on config-like documents (herald.yaml, the shaping file, values passed to parseConfig):
 * a broken or hostile document is refused with a config error, in time and memory linear in its
 * size, instead of exhausting the stack, the heap or the CPU.
 */

/**
 * Largest config or shaping file read (bytes). Real ones are a few KiB (a shaping file with 5,000
 * domain entries fits); yaml needs up to ~15 µs per byte of hostile text, so this also bounds the
 * time a garbage file can take.
 */
export const MAX_DOCUMENT_BYTES = 256 * 1024;
/** Deepest nesting of mappings and lists (Herald's own files need 6 levels). */
export const MAX_DOCUMENT_DEPTH = 32;
/**
 * Most values (scalars, mappings, lists) in a document once its YAML aliases are expanded: more
 * than a file of MAX_DOCUMENT_BYTES can hold without aliases (one value per 2 bytes).
 */
export const MAX_DOCUMENT_VALUES = 200_000;
/** YAML aliases (*name) allowed per document (with the value cap: no alias bombs). */
export const MAX_YAML_ALIASES = 100;
/** Problems listed in one ConfigError; the rest are counted in one more line. */
export const MAX_REPORTED_ISSUES = 100;
/** Characters of a value quoted in an error message. */
export const MAX_SHOWN_VALUE_CHARS = 60;
/** Characters of one key shown in a key path. */
export const MAX_SHOWN_KEY_CHARS = 60;
/** Characters of a key path, and of a message, in one error line. */
export const MAX_ISSUE_CHARS = 500;
