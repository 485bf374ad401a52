/**
 * A strict reader of the Prometheus text exposition format (0.0.4), written from the format's rules
 * rather than from our writer: it parses every line, checks names, label syntax and escapes, that
 * each family has one HELP and one TYPE line before its samples, that a family's samples are
 * together, and that histograms have cumulative buckets in rising `le` order ending in `+Inf` equal
 * to `_count`. It throws with the line number on the first violation.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Parses and checks exposition text; returns the families by name. */
export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text must end with a line feed');
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const closed = new Set<string>();
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (comment === null) return; // other comments are allowed and ignored
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let family = families.get(name);
      if (family === undefined) {
        if (current !== undefined) closed.add(current.name);
        family = { name, type: '', help: '', samples: [] };
        families.set(name, family);
        current = family;
      } else if (family !== current || family.samples.length > 0) {
        throw new Error(`${where}: ${kind} of ${name} after its samples or apart from its family`);
      }
      if (kind === 'HELP') {
        if (family.help !== '') throw new Error(`${where}: second HELP`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        family.help = rest.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (family.type !== '') throw new Error(`${where}: second TYPE`);
        if (!TYPES.includes(rest)) throw new Error(`${where}: unknown type`);
        family.type = rest;
      }
      return;
    }
    if (line.trim() === '') throw new Error(`${where}: empty line`);
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (family === undefined) throw new Error(`${where}: sample without HELP and TYPE before it`);
    if (family !== current) throw new Error(`${where}: sample apart from its family's other lines`);
    if (family.help === '' || family.type === '') throw new Error(`${where}: family ${family.name} lacks HELP or TYPE`);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === 'histogram') checkHistogram(family);
    if (family.type === 'counter') {
      for (const s of family.samples) if (!(s.value >= 0)) throw new Error(`counter ${s.name} is ${s.value}`);
    }
  }
  return families;
}

/** The family a sample belongs to: its own name, or a histogram's `_bucket`, `_sum`, `_count`. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const own = families.get(name);
  if (own !== undefined) return own;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name);
  const family = base === null ? undefined : families.get(base[1]!);
  return family?.type === 'histogram' || family?.type === 'summary' ? family : undefined;
}

function parseSample(line: string, where: string): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (head === null) throw new Error(`${where}: bad metric name`);
  const name = head[1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const labelName = /^[^=]*/.exec(line.slice(i))![0];
      if (!LABEL_NAME.test(labelName) || labelName.startsWith('__')) throw new Error(`${where}: bad label name ${JSON.stringify(labelName)}`);
      if (labelName in labels) throw new Error(`${where}: label ${labelName} twice`);
      i += labelName.length;
      if (line.slice(i, i + 2) !== '="') throw new Error(`${where}: label ${labelName} without ="`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new Error(`${where}: bad escape \\${next ?? ''} in a label value`);
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++; // the closing quote
      labels[labelName] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`${where}: expected , or } after a label`);
    }
    i++;
  }
  const rest = /^ (\S+)( -?\d+)?$/.exec(line.slice(i));
  if (rest === null) throw new Error(`${where}: expected one space and a value`);
  const text = rest[1]!;
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : text === 'NaN' ? NaN : Number(text);
  if (Number.isNaN(value) && text !== 'NaN') throw new Error(`${where}: bad value ${text}`);
  return { name, labels, value };
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { les: number[]; counts: number[]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    let entry = series.get(key);
    if (entry === undefined) series.set(key, (entry = { les: [], counts: [] }));
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${s.name}${key}: bucket without le`);
      entry.les.push(le === '+Inf' ? Infinity : Number(le));
      entry.counts.push(s.value);
    } else if (s.name === `${family.name}_sum`) entry.sum = s.value;
    else if (s.name === `${family.name}_count`) entry.count = s.value;
    else throw new Error(`${s.name}: not a histogram sample name`);
  }
  for (const [key, e] of series) {
    const where = `${family.name}${key}`;
    if (e.les.length === 0 || e.les.at(-1) !== Infinity) throw new Error(`${where}: buckets must end with le="+Inf"`);
    for (let i = 1; i < e.les.length; i++) {
      if (!(e.les[i]! > e.les[i - 1]!)) throw new Error(`${where}: le not rising`);
      if (e.counts[i]! < e.counts[i - 1]!) throw new Error(`${where}: buckets not cumulative`);
    }
    if (e.sum === undefined || e.count === undefined) throw new Error(`${where}: _sum or _count missing`);
    if (e.count !== e.counts.at(-1)) throw new Error(`${where}: _count ${e.count} differs from the +Inf bucket ${e.counts.at(-1)}`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}`);
  return matches[0]!.value;
}
