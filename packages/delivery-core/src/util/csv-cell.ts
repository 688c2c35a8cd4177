/**
 * A CSV cell a spreadsheet would run as a formula, made text: a cell starting with `=`, `+`, `-`,
 * `@`, TAB or CR (OWASP's CSV injection advice) gets a leading `'`. So that a file written this
 * way reads back exactly (`unguardFormula`), a cell that already starts with `'` before such a
 * character gets one more. Shared by the accounting log's CSV and the suppression export.
 */

/** A spreadsheet reads a cell starting with one of these (after any `'` guards) as a formula. */
const FORMULA_START = /^'*[=+\-@\t\r]/;
/** Prefixed to a cell that would start a formula: shown as text. */
export const FORMULA_GUARD = "'";

/** `text`, with FORMULA_GUARD in front when it would start a formula. */
export function guardFormula(text: string): string {
  return FORMULA_START.test(text) ? `${FORMULA_GUARD}${text}` : text;
}

/** The cell as it was before `guardFormula` (one guard removed where one was added). */
export function unguardFormula(text: string): string {
  return text.startsWith(FORMULA_GUARD) && FORMULA_START.test(text) ? text.slice(1) : text;
}
