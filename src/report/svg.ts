// Line charts as plain SVG text: a frame with ticks and labels, one polyline (with dots) per
// series and a legend. Enough for the run report's plots, with no plotting dependency.

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean; // for reference lines such as a fitted curve or a baseline
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean; // x on a log10 scale (compute); every x must then be > 0
}

const WIDTH = 640, HEIGHT = 380;
const LEFT = 64, RIGHT = 180, TOP = 36, BOTTOM = 52;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];
const TICKS = 5;

export function lineChart(chart: LineChart): string {
  const toX = chart.logX ? Math.log10 : (x: number) => x;
  const xs = chart.series.flatMap((s) => s.points.map(([x]) => toX(x))), ys = chart.series.flatMap((s) => s.points.map(([, y]) => y));
  const [x0, x1] = range(xs), [y0, y1] = range(ys);
  const plotW = WIDTH - LEFT - RIGHT, plotH = HEIGHT - TOP - BOTTOM;
  const px = (x: number) => LEFT + ((toX(x) - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => TOP + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escape(chart.title)}</text>`,
    `<rect x="${LEFT}" y="${TOP}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`,
  ];
  for (let i = 0; i <= TICKS; i++) {
    const xv = x0 + ((x1 - x0) * i) / TICKS, yv = y0 + ((y1 - y0) * i) / TICKS;
    const x = LEFT + (plotW * i) / TICKS, y = TOP + plotH - (plotH * i) / TICKS;
    parts.push(`<line x1="${x}" y1="${TOP + plotH}" x2="${x}" y2="${TOP + plotH + 4}" stroke="black"/>`);
    parts.push(`<text x="${x}" y="${TOP + plotH + 16}" text-anchor="middle">${formatTick(chart.logX ? 10 ** xv : xv)}</text>`);
    parts.push(`<line x1="${LEFT - 4}" y1="${y}" x2="${LEFT}" y2="${y}" stroke="black"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${y + 4}" text-anchor="end">${formatTick(yv)}</text>`);
  }
  parts.push(`<text x="${LEFT + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escape(chart.xLabel)}</text>`);
  parts.push(`<text x="16" y="${TOP + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${TOP + plotH / 2})">${escape(chart.yLabel)}</text>`);
  chart.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length];
    const dash = series.dashed ? ' stroke-dasharray="5 4"' : '';
    const coords = series.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    if (coords.length > 1) parts.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"${dash}/>`);
    if (!series.dashed) for (const c of coords) parts.push(`<circle cx="${c.split(',')[0]}" cy="${c.split(',')[1]}" r="2.5" fill="${color}"/>`);
    const ly = TOP + 8 + i * 16;
    parts.push(`<line x1="${WIDTH - RIGHT + 12}" y1="${ly}" x2="${WIDTH - RIGHT + 32}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${WIDTH - RIGHT + 36}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The span of the values, widened when they are all equal (or absent) so the scale is finite. */
function range(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  const low = Math.min(...values), high = Math.max(...values);
  return low === high ? [low - 0.5, high + 0.5] : [low, high];
}

function formatTick(value: number): string {
  if (value !== 0 && (Math.abs(value) >= 1e4 || Math.abs(value) < 1e-2)) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
