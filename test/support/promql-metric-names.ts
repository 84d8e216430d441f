/**
 * Which metric families a PromQL expression reads, and which families a
 * scrape exposes, so tests can check that alert rules and dashboards name
 * only metrics the service exports. Not a PromQL parser: `promtool` checks
 * the syntax; this only has to find the metric names in text that parses.
 */

/** Words that look like identifiers but are PromQL syntax, not metric names. */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** The series a histogram (or summary) adds to its family's name. */
const FAMILY_SUFFIX = /_(?:bucket|sum|count)$/;

const IDENTIFIER = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const STRING = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/;
/** Grafana's template variables ($var, ${var}, ${var:fmt}, [[var]]): not PromQL, never metric names. */
const VARIABLE = /^(?:\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[^\]]*\]\])/;

function familyOf(name: string): string {
  return name.replace(FAMILY_SUFFIX, '');
}

/**
 * The metric families `expr` selects, sorted and without repeats: bare
 * names and `{__name__="…"}` matchers, with a histogram's `_bucket`, `_sum`
 * and `_count` mapped back to the family. Function names, keywords, label
 * names, strings, durations and Grafana variables are not metric names.
 */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  let rest = expr;
  let braceDepth = 0; // inside a selector's {…}: identifiers there are label names
  let bracketDepth = 0; // inside […]: ranges and subquery steps
  let labelList = false; // the (…) after `by`, `on` and the like
  let expectLabelList = false;
  while (rest.length > 0) {
    const space = /^(?:\s+|#[^\n]*)/.exec(rest);
    if (space) {
      rest = rest.slice(space[0].length);
      continue;
    }
    const variable = VARIABLE.exec(rest);
    if (variable) {
      rest = rest.slice(variable[0].length);
      continue;
    }
    const string = STRING.exec(rest);
    if (string) {
      rest = rest.slice(string[0].length);
      continue;
    }
    const identifier = IDENTIFIER.exec(rest);
    if (identifier) {
      const word = identifier[0];
      rest = rest.slice(word.length);
      if (braceDepth > 0) {
        const nameMatcher = /^\s*=\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/.exec(rest);
        if (word === '__name__' && nameMatcher) names.add(familyOf(nameMatcher[1].slice(1, -1)));
        continue;
      }
      if (bracketDepth > 0 || labelList) continue;
      if (KEYWORDS.has(word.toLowerCase())) {
        expectLabelList = LABEL_LIST_KEYWORDS.has(word.toLowerCase());
        continue;
      }
      expectLabelList = false;
      if (/^\s*(?:\(|(?:by|without)\s*\()/i.test(rest)) continue; // a function, or `sum by (…) (…)`
      names.add(familyOf(word));
      continue;
    }
    const char = rest[0];
    rest = rest.slice(1);
    if (/^[0-9.]/.test(char)) {
      // A number or a duration (5m, 1e3, 0x1f): its letters are no identifier.
      rest = rest.replace(/^[0-9a-zA-Z_.]*/, '');
      continue;
    }
    if (char === '{') braceDepth++;
    else if (char === '}') braceDepth--;
    else if (char === '[') bracketDepth++;
    else if (char === ']') bracketDepth--;
    else if (char === '(' && expectLabelList) labelList = true;
    else if (char === ')' && labelList) labelList = false;
    expectLabelList = false;
  }
  return [...names].sort();
}

/**
 * The metric families in a text exposition: every `# TYPE` line (present
 * even for a labelled family with no series yet), and the name of every
 * sample, a histogram's or summary's series mapped back to their family.
 */
export function scrapedMetricFamilies(text: string): Set<string> {
  const families = new Set<string>();
  const summed = new Set<string>(); // histograms and summaries: their series carry suffixes
  for (const line of text.split('\n')) {
    const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
    if (type) {
      families.add(type[1]);
      if (type[2] === 'histogram' || type[2] === 'summary') summed.add(type[1]);
    }
  }
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sample = IDENTIFIER.exec(line);
    if (!sample) continue;
    const family = familyOf(sample[0]);
    families.add(summed.has(family) ? family : sample[0]);
  }
  return families;
}
