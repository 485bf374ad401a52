/**
 * The load test's chart: one standalone SVG with two panels for any number of runs, drawn as a
 * plain string (no chart library). Left, each run's mean response time over the run, with marked
 * moments (the back end killed mid-run); right, each run's response-time distribution by
 * percentile on a log scale, where tails show.
 */

/** One run's responses, in the order they came back. */
export interface ChartSeries {
  /** The run's name, shown in the legend. */
  name: string;
  /** When each response came back, in ms since the run started. */
  atMs: ArrayLike<number>;
  /** Each response's response time in ms, same order as `atMs`. */
  latencyMs: ArrayLike<number>;
  /** Moments to mark on the time panel, in ms since the run started. */
  events?: readonly { atMs: number; label: string }[];
}

/** What {@link responseTimeChartSvg} draws. */
export interface ChartInput {
  title: string;
  /** A second, smaller line under the title (settings of the test). */
  subtitle?: string;
  series: readonly ChartSeries[];
}

const WIDTH = 1000;
const HEIGHT = 470;
const COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e', '#8c564b'];
/** Time buckets across the longest run: enough for a shape, few enough to smooth a 10 s run. */
const TIME_BUCKETS = 40;
/** The distribution panel goes to the 99.9th percentile: 10^-3 of the responses are left out. */
const TAIL_DECADES = 3;
const DISTRIBUTION_POINTS = 120;

/** A panel's plotting area in SVG pixels. */
interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The whole chart as a standalone SVG document. */
export function responseTimeChartSvg(input: ChartInput): string {
  const color = (i: number): string => COLORS[i % COLORS.length]!;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(input.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(input.title)}</text>`,
  ];
  if (input.subtitle) parts.push(`<text x="${WIDTH / 2}" y="46" text-anchor="middle" fill="#555555">${escapeXml(input.subtitle)}</text>`);
  parts.push(legend(input.series.map((s, i) => ({ name: s.name, color: color(i) }))));
  parts.push(timePanel(input.series, color, { left: 70, top: 100, width: 380, height: 300 }));
  parts.push(distributionPanel(input.series, color, { left: 580, top: 100, width: 380, height: 300 }));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Left panel: mean response time per time bucket, one line per run, dashed marks for events. */
function timePanel(series: readonly ChartSeries[], color: (i: number) => string, frame: Frame): string {
  const spanMs = Math.max(1, ...series.map((s) => maxOf(s.atMs)));
  const bucketMs = spanMs / TIME_BUCKETS;
  const lines = series.map((s) => {
    const sums = new Float64Array(TIME_BUCKETS);
    const counts = new Uint32Array(TIME_BUCKETS);
    for (let i = 0; i < s.atMs.length; i++) {
      const bucket = Math.min(TIME_BUCKETS - 1, Math.floor(s.atMs[i]! / bucketMs));
      sums[bucket]! += s.latencyMs[i]!;
      counts[bucket]!++;
    }
    const points: [number, number][] = [];
    for (let b = 0; b < TIME_BUCKETS; b++) if (counts[b]! > 0) points.push([((b + 0.5) * bucketMs) / 1000, sums[b]! / counts[b]!]);
    return points;
  });
  // Up to the last bucket's centre, where the last point sits: a run that ends a moment after its
  // planned 10 s keeps a 0-10 s axis instead of jumping to 12.
  const x = linearAxis(((TIME_BUCKETS - 0.5) * bucketMs) / 1000);
  const y = linearAxis(Math.max(0, ...lines.flat().map(([, ms]) => ms)));
  const parts = [axes(frame, 'Mean response time over each run', x, y, 'time since the run started (s)', 'mean response time (ms)', (v) => formatNumber(v))];
  lines.forEach((points, i) => parts.push(polyline(points, frame, x.max, y.max, color(i))));
  series.forEach((s, i) => {
    for (const event of s.events ?? []) {
      if (event.atMs / 1000 > x.max) continue;
      const px = frame.left + (event.atMs / 1000 / x.max) * frame.width;
      parts.push(
        `<line x1="${px.toFixed(1)}" y1="${frame.top}" x2="${px.toFixed(1)}" y2="${frame.top + frame.height}" stroke="${color(i)}" stroke-dasharray="5 4"/>`,
        `<text x="${(px + 4).toFixed(1)}" y="${frame.top + 14}" fill="${color(i)}">${escapeXml(event.label)}</text>`,
      );
    }
  });
  return parts.join('\n');
}

/**
 * Right panel: response time at each percentile. The x axis is log10(1 / (1 - q)), so 90%, 99%
 * and 99.9% sit one decade apart and the tail is as wide as the body.
 */
function distributionPanel(series: readonly ChartSeries[], color: (i: number) => string, frame: Frame): string {
  const curves = series.map((s) => {
    const sorted = Float64Array.from(s.latencyMs).sort();
    if (sorted.length === 0) return [];
    const points: [number, number][] = [];
    for (let k = 0; k <= DISTRIBUTION_POINTS; k++) {
      const decades = (k / DISTRIBUTION_POINTS) * TAIL_DECADES;
      points.push([decades, quantile(sorted, 1 - 10 ** -decades)]);
    }
    return points;
  });
  const x = { max: TAIL_DECADES, ticks: [0, Math.log10(2), 1, 2, 3] };
  const y = linearAxis(Math.max(0, ...curves.flat().map(([, ms]) => ms)));
  const percentLabel = (decades: number): string => `${formatNumber(100 * (1 - 10 ** -decades))}%`;
  const parts = [axes(frame, 'Response-time distribution', x, y, 'percentile (log scale)', 'response time (ms)', percentLabel)];
  curves.forEach((points, i) => parts.push(polyline(points, frame, x.max, y.max, color(i))));
  return parts.join('\n');
}

/** A frame, its title, ticks, grid lines and axis labels. */
function axes(frame: Frame, title: string, x: Axis, y: Axis, xLabel: string, yLabel: string, xTickLabel: (v: number) => string): string {
  const { left, top, width, height } = frame;
  const bottom = top + height;
  const parts = [
    `<text x="${left + width / 2}" y="${top - 10}" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#333333"/>`,
  ];
  for (const v of x.ticks) {
    const px = (left + (v / x.max) * width).toFixed(1);
    parts.push(
      `<line x1="${px}" y1="${top}" x2="${px}" y2="${bottom}" stroke="#e5e5e5"/>`,
      `<text x="${px}" y="${bottom + 16}" text-anchor="middle">${escapeXml(xTickLabel(v))}</text>`,
    );
  }
  for (const v of y.ticks) {
    const py = (bottom - (v / y.max) * height).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${py}" x2="${left + width}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatNumber(v))}</text>`,
    );
  }
  parts.push(
    `<text x="${left + width / 2}" y="${bottom + 36}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(${left - 48} ${top + height / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return parts.join('\n');
}

function legend(entries: readonly { name: string; color: string }[]): string {
  const itemWidth = 150;
  const start = WIDTH / 2 - (entries.length * itemWidth) / 2;
  return entries
    .map((e, i) => {
      const x = start + i * itemWidth;
      return `<line x1="${x}" y1="64" x2="${x + 24}" y2="64" stroke="${e.color}" stroke-width="3"/><text x="${x + 30}" y="68">${escapeXml(e.name)}</text>`;
    })
    .join('\n');
}

function polyline(points: readonly [number, number][], frame: Frame, xMax: number, yMax: number, stroke: string): string {
  if (points.length === 0) return '';
  const coordinates = points
    .map(([x, y]) => `${(frame.left + (x / xMax) * frame.width).toFixed(1)},${(frame.top + frame.height - (y / yMax) * frame.height).toFixed(1)}`)
    .join(' ');
  return `<polyline points="${coordinates}" fill="none" stroke="${stroke}" stroke-width="2" stroke-linejoin="round"/>`;
}

interface Axis {
  max: number;
  ticks: number[];
}

/** An axis from 0 to a round number at or above `max`, with 1-2-5 steps and at most 6 intervals. */
function linearAxis(max: number): Axis {
  if (!(max > 0)) return { max: 1, ticks: [0, 1] };
  const magnitude = 10 ** Math.floor(Math.log10(max / 6));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => Math.ceil(max / s) <= 6) ?? 10 * magnitude;
  const intervals = Math.ceil(max / step);
  return { max: intervals * step, ticks: Array.from({ length: intervals + 1 }, (_, i) => i * step) };
}

/** The value at quantile `q` of ascending `sorted` (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

function maxOf(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  return max;
}

/** Up to 3 significant digits, no trailing zeros: tick labels stay short. */
function formatNumber(v: number): string {
  return String(Number(v.toPrecision(3)));
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
