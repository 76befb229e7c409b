/**
 * Minimal inline SVG charts for the offline HTML report (no scripts, no
 * fetches). Every chart carries its data in attributes (`data-chart` on the
 * svg, `data-series` + `data-values` on each series) so that tests and
 * curious readers can check what is drawn.
 */

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChartSpec {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  /** Labels for x positions 0..n-1 (categorical axis), instead of numbers. */
  readonly xCategories?: readonly string[];
  /** Even spacing of the given x values (sweeps: 1, 4, 16, 64). */
  readonly xEvenlySpaced?: boolean;
}

export interface BarStack {
  readonly name: string;
  readonly color: string;
  /** One value per category. */
  readonly values: readonly number[];
}

export interface BarChartSpec {
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly stacks: readonly BarStack[];
}

const W = 660;
const H = 310;
const M = { top: 34, right: 175, bottom: 58, left: 64 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

function data(value: unknown): string {
  return escapeHtml(JSON.stringify(value));
}

/** 0 and a round maximum with ~5 ticks. */
function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(value: number): string {
  return Math.abs(value) >= 1000 ? value.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(Number(value.toPrecision(4)));
}

function frame(id: string, title: string, body: string, yLabel: string, xLabel: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeHtml(id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">
<text x="${W / 2 - M.right / 2 + M.left / 2}" y="18" text-anchor="middle" class="title">${escapeHtml(title)}</text>
<text transform="translate(14 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeHtml(yLabel)}</text>
<text x="${M.left + PW / 2}" y="${H - 6}" text-anchor="middle" class="axis-label">${escapeHtml(xLabel)}</text>
${body}
</svg>`;
}

function yAxis(ticks: number[], y: (v: number) => number): string {
  return ticks
    .map((t) => `<line x1="${M.left}" x2="${M.left + PW}" y1="${y(t)}" y2="${y(t)}" class="grid"/><text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end" class="tick">${label(t)}</text>`)
    .join('\n');
}

function legend(items: readonly { name: string; color: string }[]): string {
  return items
    .map((s, i) => `<rect x="${M.left + PW + 14}" y="${M.top + i * 18}" width="12" height="12" fill="${s.color}"/><text x="${M.left + PW + 30}" y="${M.top + i * 18 + 10}" class="legend">${escapeHtml(s.name)}</text>`)
    .join('\n');
}

export function lineChart(spec: LineChartSpec): string {
  const allX = [...new Set(spec.series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  const maxY = Math.max(0, ...spec.series.flatMap((s) => s.points.map(([, y]) => y)));
  const ticks = niceTicks(maxY);
  const top = ticks[ticks.length - 1]!;
  const y = (v: number): number => round(M.top + PH - (v / top) * PH);
  let x: (v: number) => number;
  let xTicks: { at: number; text: string }[];
  if (spec.xCategories) {
    const n = Math.max(1, spec.xCategories.length - 1);
    x = (v) => round(M.left + (v / n) * PW);
    xTicks = spec.xCategories.map((text, i) => ({ at: i, text }));
  } else if (spec.xEvenlySpaced) {
    const n = Math.max(1, allX.length - 1);
    x = (v) => round(M.left + (allX.indexOf(v) / n) * PW);
    xTicks = allX.map((v) => ({ at: v, text: label(v) }));
  } else {
    const minX = Math.min(...allX, 0);
    const maxX = Math.max(...allX, 1);
    x = (v) => round(M.left + ((v - minX) / (maxX - minX || 1)) * PW);
    xTicks = niceTicks(maxX).filter((t) => t <= maxX).map((t) => ({ at: t, text: label(t) }));
  }
  const xAxis = xTicks.map((t) => `<text x="${x(t.at)}" y="${M.top + PH + 16}" text-anchor="middle" class="tick">${escapeHtml(t.text)}</text>`).join('\n');
  const series = spec.series
    .map((s) => {
      const points = s.points.map(([px, py]) => `${x(px)},${y(py)}`).join(' ');
      const dots = s.points.length <= 20 ? s.points.map(([px, py]) => `<circle cx="${x(px)}" cy="${y(py)}" r="2.5" fill="${s.color}"/>`).join('') : '';
      return `<g class="series" data-series="${escapeHtml(s.name)}" data-values="${data(s.points)}"><polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>${dots}</g>`;
    })
    .join('\n');
  const axes = `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}" class="axis"/><line x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}" class="axis"/>`;
  return frame(spec.id, spec.title, `${yAxis(ticks, y)}\n${axes}\n${xAxis}\n${series}\n${legend(spec.series)}`, spec.yLabel, spec.xLabel);
}

export function barChart(spec: BarChartSpec): string {
  const totals = spec.categories.map((_, i) => spec.stacks.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const ticks = niceTicks(Math.max(0, ...totals));
  const top = ticks[ticks.length - 1]!;
  const y = (v: number): number => round(M.top + PH - (v / top) * PH);
  const slot = PW / Math.max(1, spec.categories.length);
  const barWidth = Math.min(60, slot * 0.6);
  const bars = spec.stacks
    .map((stack, si) => {
      const rects = spec.categories
        .map((_, ci) => {
          const below = spec.stacks.slice(0, si).reduce((sum, s) => sum + (s.values[ci] ?? 0), 0);
          const value = stack.values[ci] ?? 0;
          if (value <= 0) return '';
          const x0 = round(M.left + slot * ci + (slot - barWidth) / 2);
          return `<rect x="${x0}" y="${y(below + value)}" width="${round(barWidth)}" height="${round(y(below) - y(below + value))}" fill="${stack.color}"><title>${escapeHtml(`${spec.categories[ci]}: ${stack.name} ${value}`)}</title></rect>`;
        })
        .join('');
      return `<g class="series" data-series="${escapeHtml(stack.name)}" data-values="${data(spec.categories.map((c, i) => [c, stack.values[i] ?? 0]))}">${rects}</g>`;
    })
    .join('\n');
  const labels = spec.categories
    .map((c, i) => `<text transform="translate(${round(M.left + slot * i + slot / 2 + 4)} ${M.top + PH + 14}) rotate(-18)" text-anchor="end" class="tick">${escapeHtml(c)}</text><text x="${round(M.left + slot * i + slot / 2)}" y="${y(totals[i]!) - 4}" text-anchor="middle" class="tick">${label(totals[i]!)}</text>`)
    .join('\n');
  const axes = `<line x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}" class="axis"/>`;
  const empty = spec.stacks.length === 0 ? `<text x="${M.left + PW / 2}" y="${M.top + PH / 2}" text-anchor="middle" class="tick">none</text>` : '';
  return frame(spec.id, spec.title, `${yAxis(ticks, y)}\n${axes}\n${bars}\n${labels}\n${empty}\n${legend(spec.stacks)}`, spec.yLabel, '');
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
