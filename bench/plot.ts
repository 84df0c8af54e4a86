/** Small SVG line charts for the bench results: no dependency, just enough axis and legend. */

/** One line of a chart. */
export interface Series {
  name: string;
  points: [number, number][];
  /** Drawn dashed (a reference such as ideal scaling). */
  dashed?: boolean;
}

/** Options for {@link lineChart}. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** A horizontal reference line (a target), labelled. */
  threshold?: { y: number; label: string };
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A "nice" upper bound and step for an axis from 0 to `max`. */
function axis(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  return { top: Math.ceil(max / step) * step, step };
}

const label = (value: number) => (Math.abs(value) >= 1000 ? value.toFixed(0) : String(Number(value.toPrecision(3))));

/** An SVG document: axes from zero, one polyline with dots per series, legend at the top right. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = options.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xAxis = axis(Math.max(...all.map(([x]) => x), 0));
  const yAxis = axis(Math.max(...all.map(([, y]) => y), options.threshold?.y ?? 0));
  const px = (x: number) => margin.left + (x / xAxis.top) * plotW;
  const py = (y: number) => margin.top + plotH - (y / yAxis.top) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escape(options.title)}</text>`,
  ];
  for (let y = 0; y <= yAxis.top + 1e-9; y += yAxis.step) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`,
    );
  }
  for (let x = 0; x <= xAxis.top + 1e-9; x += xAxis.step) {
    parts.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#333"/>`,
      `<text x="${px(x)}" y="${margin.top + plotH + 18}" text-anchor="middle">${label(x)}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escape(options.xLabel)}</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}</text>`,
  );
  if (options.threshold) {
    const y = py(options.threshold.y);
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#d62728" stroke-dasharray="2 3"/>`,
      `<text x="${margin.left + 6}" y="${y - 4}" fill="#d62728">${escape(options.threshold.label)}</text>`,
    );
  }
  options.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length];
    const points = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      ...points.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`),
      `<line x1="${width - 170}" x2="${width - 150}" y1="${margin.top + 12 + index * 16}" y2="${margin.top + 12 + index * 16}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${width - 145}" y="${margin.top + 16 + index * 16}">${escape(series.name)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
