/**
 * A writer of the Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
 * metric family, then its samples, label values escaped, histogram buckets cumulative and ending in
 * `+Inf`. Our own few lines instead of prom-client: every value here is read at scrape time from
 * counters the balancer keeps anyway, so a registry of metric objects (and its per-observation cost)
 * would buy nothing. Imports nothing.
 */

/** The content type of the text format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The metric types this writer emits. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label names and values of one sample, in the order they are written. */
export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Collects metric families and renders them as exposition text. */
export class ExpositionWriter {
  readonly #lines: string[] = [];
  readonly #families = new Set<string>();

  /**
   * Starts a metric family: its HELP and TYPE lines. Samples of the family follow. A name is
   * written once; a bad name is a programming error and throws.
   */
  family(name: string, type: MetricType, help: string): this {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    if (this.#families.has(name)) throw new Error(`metric family ${name} written twice`);
    this.#families.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample of a counter or gauge. */
  sample(name: string, labels: Labels | undefined, value: number): this {
    this.#lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  /**
   * One histogram series: `counts[i]` observations fell in bucket i (at most `bounds[i]`, and above
   * the previous bound), the last entry beyond the last bound. Written cumulatively, as the format
   * wants, ending with `le="+Inf"` equal to `_count`.
   */
  histogram(name: string, labels: Labels | undefined, bounds: readonly number[], counts: ArrayLike<number>, sum: number): this {
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      this.sample(`${name}_bucket`, { ...labels, le: formatValue(bounds[i]!) }, cumulative);
    }
    cumulative += counts[bounds.length] ?? 0;
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, cumulative);
    this.sample(`${name}_sum`, labels, sum);
    this.sample(`${name}_count`, labels, cumulative);
    return this;
  }

  /** The exposition text, ending with a line feed. */
  text(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }
}

/** A sample value: integers and floats as JavaScript prints them, and the format's `+Inf`, `-Inf`, `NaN`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** A label value with backslash, double quote and line feed escaped, as the format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text with backslash and line feed escaped. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function labelText(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(name)}`);
    parts.push(`${name}="${escapeLabelValue(value)}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}
