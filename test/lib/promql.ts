/**
 * A small PromQL tokenizer for tests: the metric names an expression queries. Skips what is not a
 * metric: label matchers (`{…}`), range and subquery selectors (`[…]`), strings, numbers and
 * durations, Grafana variables (`$instance`, `$__rate_interval`), function and aggregation names
 * (an identifier followed by `(`, or by `by` / `without`), keywords and operators, and the label lists of `by`,
 * `without`, `on`, `ignoring`, `group_left` and `group_right`. A name like `x_bucket` is returned
 * as written (a histogram's series names, which a scrape shows as sample names).
 */

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const IDENT_START = /[A-Za-z_:]/;
const IDENT_PART = /[A-Za-z0-9_:]/;

/** Every metric name `expr` selects, in order of appearance, without duplicates. */
export function metricNames(expr: string): string[] {
  const names: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  /** From an opening bracket to its match (strings inside are skipped whole). */
  const skipGroup = (open: string, close: string) => {
    let depth = 0;
    while (i < expr.length) {
      const c = expr[i]!;
      if (c === '"' || c === "'" || c === '`') skipString();
      else {
        if (c === open) depth++;
        else if (c === close && --depth === 0) {
          i++;
          return;
        }
        i++;
      }
    }
    throw new Error(`unbalanced ${open} in ${expr}`);
  };
  const skipString = () => {
    const quote = expr[i]!;
    i++;
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' ? 2 : 1;
    i++;
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '{') skipGroup('{', '}');
    else if (c === '[') skipGroup('[', ']');
    else if (c === '"' || c === "'" || c === '`') skipString();
    else if (c === '$') {
      i++;
      while (i < expr.length && IDENT_PART.test(expr[i]!)) i++;
    } else if (/[0-9.]/.test(c)) {
      // Numbers and durations (0.95, 1e3, 5m).
      while (i < expr.length && /[0-9A-Za-z.]/.test(expr[i]!)) i++;
    } else if (IDENT_START.test(c)) {
      const start = i;
      while (i < expr.length && IDENT_PART.test(expr[i]!)) i++;
      const word = expr.slice(start, i);
      skipSpace();
      if (LABEL_LIST_KEYWORDS.has(word.toLowerCase())) {
        if (expr[i] === '(') skipGroup('(', ')');
      } else if (KEYWORDS.has(word.toLowerCase())) {
        // an operator or a modifier
      } else if (expr[i] === '(' || /^(by|without)\b/i.test(expr.slice(i))) {
        // a function or an aggregation (`sum by (le) (…)`): its arguments are read on
      } else if (!names.includes(word)) names.push(word);
    } else i++;
  }
  return names;
}

/**
 * The metric names in a Prometheus text exposition: every sample's name (`x_bucket`, `x_sum`,
 * `x_count` for a histogram) and every family named by a `# TYPE` line.
 */
export function exposedNames(text: string): { samples: Set<string>; families: Set<string> } {
  const samples = new Set<string>();
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) families.add(type[1]!);
    else if (line && !line.startsWith('#')) samples.add(/^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)![0]);
  }
  return { samples, families };
}

/** The family a sample name belongs to: a histogram's or summary's suffix removed when it is one. */
export function familyOf(name: string, families: ReadonlySet<string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length)))
      return name.slice(0, -suffix.length);
  }
  return name;
}
