/**
 * splitLines: a text's lines, split at LF with one trailing CR dropped from each (what
 * `split(/\r?\n/)` gives). Splitting on a string separator stays linear at every size, where V8's
 * regular-expression split falls off a cliff (about 25× slower) past some 30,000 lines, which a
 * hostile bounce can reach. With `maxLines` only the first lines are split off (the scan stops
 * there), so a caller with a line budget does work bounded by it.
 */
export function splitLines(text: string, maxLines?: number): string[] {
  const lines = maxLines === undefined ? text.split('\n') : text.split('\n', maxLines);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  return lines;
}
