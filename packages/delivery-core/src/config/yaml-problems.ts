/**
 * What a yaml library error says to an operator, without quoting the file: yaml's own sentence
 * when it is one of its fixed wordings (no text of the document in it), else a description of
 * the error code. Pure data.
 */
import type { ErrorCode } from 'yaml';

const BY_CODE: Record<ErrorCode, string> = {
  ALIAS_PROPS: 'an alias (*name) with a tag or anchor',
  BAD_ALIAS: 'an invalid alias (*name) or anchor (&name)',
  BAD_COLLECTION_TYPE: 'a mapping or list whose tag does not fit it',
  BAD_DIRECTIVE: 'an invalid % directive',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'a tag or anchor in the wrong place',
  BAD_SCALAR_START: 'a plain value starting with a reserved character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a block mapping or list used as a key',
  BLOCK_IN_FLOW: 'a block mapping or list inside [ ] or { }',
  DUPLICATE_KEY: 'a duplicate key',
  IMPOSSIBLE: 'invalid YAML',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: 'a missing character (a closing quote or bracket, a comma, a colon or a space)',
  MULTILINE_IMPLICIT_KEY: 'a key spread over several lines',
  MULTIPLE_ANCHORS: 'more than one anchor on a value',
  MULTIPLE_DOCS: 'more than one document (---) in the file',
  MULTIPLE_TAGS: 'more than one tag on a value',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'nested too deep',
  TAB_AS_INDENT: 'a tab used for indentation (indent with spaces)',
  TAG_RESOLVE_FAILED: 'a value that does not fit its tag',
  UNEXPECTED_TOKEN: 'unexpected characters',
};

const FLOW = '(?:flow map|flow sequence)';
/** yaml's sentences that contain nothing of the document (interpolations are its own words). */
const FIXED_WORDINGS: readonly RegExp[] = [
  /^Missing closing ['"]quote$/,
  new RegExp(`^Missing , (?:or : )?between ${FLOW} items$`),
  new RegExp(`^Missing space after : in ${FLOW}$`),
  new RegExp(`^Unexpected (?:,|empty item) in ${FLOW}$`),
  /^(?:Flow map|Flow sequence)(?: in block collection must be sufficiently indented and| must) end with a [}\]]$/,
  /^Implicit map keys need to be followed by map values$/,
  /^Implicit keys (?:of flow sequence pairs )?need to be on a single line$/,
  /^Nested mappings are not allowed in compact mappings$/,
  /^A block sequence may not be used as an implicit map key$/,
  /^Sequence item without - indicator$/,
  /^All sequence items must start at the same column$/,
  /^Tabs are not allowed as indentation$/,
  /^Comments must be separated from other tokens by white space characters$/,
  /^Tags and anchors must be separated from the next token by white space$/,
  /^Block scalars? (?:values in collections must be indented|with more-indented leading empty lines must use an explicit indentation indicator)$/,
  /^Missing newline after block sequence props$/,
  /^(?:Alias|Anchor) cannot be an empty string$/,
  /^A node can have at most one (?:anchor|tag)$/,
  /^An alias node must not specify any properties$/,
];

/** The nature of a yaml error, for "cannot parse YAML: <this>". */
export function yamlProblem(code: ErrorCode, message: string): string {
  if (FIXED_WORDINGS.some((wording) => wording.test(message))) {
    return message.charAt(0).toLowerCase() + message.slice(1);
  }
  return BY_CODE[code] ?? 'invalid YAML';
}
