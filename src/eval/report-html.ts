/**
 * `eval report --format html`: one self-contained page (inline CSS and inline SVG, no scripts, no
 * URLs, no fonts) that works offline and in light and dark mode: the tables of report.ts and a
 * grouped bar chart per table, with error bars of ±std across evaluation runs. Every string taken
 * from a summary file goes through escapeHtml.
 */
import { formatRate, type PassRateTable, type PreferenceTable, type Report } from './report.js';
import { winCell } from './report-text.js';

/** One bar: a percentage, its spread, and the tooltip text (an SVG <title>, read by screen readers). */
export interface Bar {
  readonly value: number;
  readonly std: number | undefined;
  readonly title: string;
}

export interface BarChart {
  /** Unique in the page: prefixes the ids that aria-labelledby points at. */
  readonly id: string;
  readonly title: string;
  readonly axisLabel: string;
  readonly groups: readonly string[];
  /** One series per row of the table; `bars[i]` belongs to `groups[i]`, undefined for no data. */
  readonly series: readonly { readonly label: string; readonly bars: readonly (Bar | undefined)[] }[];
  /** A dashed line across the plot, e.g. 50 for win rates (a coin flip). */
  readonly guide?: number;
}

export function renderHtml(report: Report): string {
  const sections = [
    ...report.passRate.map((table, index) => section(table.title, passRateTableHtml(table), table.notes, passRateChart(table, `pass-rate-${index}`))),
    ...report.preference.map((table, index) => section(table.title, preferenceTableHtml(table), table.notes, preferenceChart(table, `preference-${index}`))),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>toolbench eval report</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>toolbench eval report</h1>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

/** Escapes text for element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ENTITIES[character] ?? character);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Ten colours (Tableau 10) that read on white and on near-black; series beyond ten repeat them.
const SERIES_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --stripe: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --stripe: #151b23; }
}
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h2 { font-size: 1.15rem; margin-top: 2.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.6rem; }
thead th { text-align: center; }
tbody tr:nth-child(even) { background: var(--stripe); }
td.num { text-align: right; white-space: nowrap; }
td.missing { text-align: center; color: var(--muted); }
th[scope="row"] { text-align: left; font-weight: 600; }
.notes { color: var(--muted); font-size: 0.9rem; padding-left: 1.2rem; }
figure { margin: 1.5rem 0 0; overflow-x: auto; }
svg text { fill: var(--fg); font: 12px system-ui, -apple-system, "Segoe UI", sans-serif; }
svg .axis-label { fill: var(--muted); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .guide { stroke: var(--muted); stroke-dasharray: 4 3; }
svg .error { stroke: var(--fg); stroke-width: 1.2; fill: none; }
${SERIES_COLOURS.map((colour, index) => `svg .series-${index} { fill: ${colour}; }`).join('\n')}
`;

function section(title: string, table: string, notes: readonly string[], chart: string): string {
  const noteItems = notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('\n');
  return `<section>
<h2>${escapeHtml(title)}</h2>
<div class="scroll">${table}</div>
<ul class="notes">
${noteItems}
</ul>
<figure>${chart}</figure>
</section>`;
}

// ---------------------------------------------------------------------------------------------
// Tables

function tableHtml(header: readonly string[], rows: readonly { labels: readonly string[]; cells: readonly (string | undefined)[] }[]): string {
  const head = header.map((name) => `<th scope="col">${escapeHtml(name)}</th>`).join('');
  const body = rows.map(({ labels, cells }) => {
    const labelCells = labels.map((label) => `<th scope="row">${escapeHtml(label)}</th>`).join('');
    const valueCells = cells.map((cell) => (cell === undefined ? '<td class="missing">-</td>' : `<td class="num">${escapeHtml(cell)}</td>`)).join('');
    return `<tr>${labelCells}${valueCells}</tr>`;
  });
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function passRateTableHtml(table: PassRateTable): string {
  return tableHtml(
    ['Model', ...table.testSets, 'Average'],
    table.rows.map((row) => ({
      labels: [row.model],
      cells: [
        ...table.testSets.map((testSet) => {
          const summary = row.cells.get(testSet)?.summary;
          return summary === undefined ? undefined : formatRate(summary.rate, summary.std);
        }),
        formatRate(row.average.rate, row.average.std),
      ],
    })),
  );
}

function preferenceTableHtml(table: PreferenceTable): string {
  return tableHtml(
    ['Candidate', 'Reference', ...table.testSets, 'Average'],
    table.rows.map((row) => ({
      labels: [row.candidate, row.reference],
      cells: [
        ...table.testSets.map((testSet) => {
          const summary = row.cells.get(testSet)?.summary;
          return summary === undefined ? undefined : winCell(summary.win_rate, summary.std, summary.tie_rate);
        }),
        winCell(row.average.rate, row.average.std, row.average.tieRate),
      ],
    })),
  );
}

// ---------------------------------------------------------------------------------------------
// Charts

function passRateChart(table: PassRateTable, id: string): string {
  return renderBarChart({
    id,
    title: `${table.metric} per test set and model`,
    axisLabel: `${table.metric}, %`,
    groups: [...table.testSets, 'Average'],
    series: table.rows.map((row) => ({
      label: row.model,
      bars: [
        ...table.testSets.map((testSet): Bar | undefined => {
          const summary = row.cells.get(testSet)?.summary;
          if (summary === undefined) return undefined;
          const detail = `${summary.total} queries, ${summary.missing_ids.length} missing answers`;
          return { value: summary.rate, std: summary.std, title: `${row.model}, ${testSet}: ${table.metric} ${formatRate(summary.rate, summary.std)} (${detail})` };
        }),
        { value: row.average.rate, std: row.average.std, title: `${row.model}, Average of ${row.average.testSets} test sets: ${table.metric} ${formatRate(row.average.rate, row.average.std)}` },
      ],
    })),
  });
}

function preferenceChart(table: PreferenceTable, id: string): string {
  return renderBarChart({
    id,
    title: `${table.metric} per test set and candidate (dashed: 50, a tie with the reference)`,
    axisLabel: `${table.metric}, %`,
    groups: [...table.testSets, 'Average'],
    guide: 50,
    series: table.rows.map((row) => {
      const label = `${row.candidate} vs ${row.reference}`;
      return {
        label,
        bars: [
          ...table.testSets.map((testSet): Bar | undefined => {
            const summary = row.cells.get(testSet)?.summary;
            if (summary === undefined) return undefined;
            return { value: summary.win_rate, std: summary.std, title: `${label}, ${testSet}: ${table.metric} ${winCell(summary.win_rate, summary.std, summary.tie_rate)}, ${summary.total} queries` };
          }),
          { value: row.average.rate, std: row.average.std, title: `${label}, Average: ${table.metric} ${winCell(row.average.rate, row.average.std, row.average.tieRate)}` },
        ],
      };
    }),
  });
}

const PLOT_TOP = 28;
const PLOT_LEFT = 48;
const PLOT_RIGHT = 16;
const PLOT_HEIGHT = 220;
const LEGEND_LINE = 18;
/** Roughly the advance of a 12px system-ui character; generous so that labels do not collide. */
const CHARACTER_WIDTH = 7.5;

/** A grouped bar chart on a 0-100 axis, as an inline <svg> (no xmlns needed inside HTML). */
export function renderBarChart(chart: BarChart): string {
  const seriesCount = Math.max(chart.series.length, 1);
  const barWidth = Math.max(6, Math.min(18, Math.floor(120 / seriesCount)));
  // no fonts are embedded, so text widths are estimated at CHARACTER_WIDTH to keep labels apart
  const longestGroup = Math.max(0, ...chart.groups.map((group) => group.length));
  const groupWidth = Math.max(seriesCount * barWidth + 24, longestGroup * CHARACTER_WIDTH + 12);
  const plotWidth = chart.groups.length * groupWidth;
  const plotBottom = PLOT_TOP + PLOT_HEIGHT;
  const legendTop = plotBottom + 40;
  const longestLegend = Math.max(0, ...chart.series.map((series) => series.label.length));
  const width = Math.ceil(PLOT_LEFT + Math.max(plotWidth, 18 + longestLegend * CHARACTER_WIDTH) + PLOT_RIGHT);
  const height = legendTop + chart.series.length * LEGEND_LINE + 8;
  const y = (value: number) => PLOT_TOP + PLOT_HEIGHT * (1 - Math.min(Math.max(value, 0), 100) / 100);
  const number = (value: number) => String(Math.round(value * 10) / 10);

  const grid = [0, 20, 40, 60, 80, 100].map(
    (tick) =>
      `<line class="grid" x1="${PLOT_LEFT}" x2="${PLOT_LEFT + plotWidth}" y1="${number(y(tick))}" y2="${number(y(tick))}"/>` +
      `<text x="${PLOT_LEFT - 6}" y="${number(y(tick) + 4)}" text-anchor="end">${tick}</text>`,
  );
  const guide =
    chart.guide === undefined ? [] : [`<line class="guide" x1="${PLOT_LEFT}" x2="${PLOT_LEFT + plotWidth}" y1="${number(y(chart.guide))}" y2="${number(y(chart.guide))}"/>`];
  const groupLabels = chart.groups.map(
    (group, index) => `<text x="${number(PLOT_LEFT + (index + 0.5) * groupWidth)}" y="${plotBottom + 18}" text-anchor="middle">${escapeHtml(group)}</text>`,
  );
  const bars = chart.series.flatMap((series, seriesIndex) =>
    series.bars.flatMap((bar, groupIndex) => {
      if (bar === undefined) return [];
      const x = PLOT_LEFT + groupIndex * groupWidth + (groupWidth - seriesCount * barWidth) / 2 + seriesIndex * barWidth;
      const top = y(bar.value);
      const rect = `<rect class="series-${seriesIndex % SERIES_COLOURS.length}" x="${number(x)}" y="${number(top)}" width="${barWidth - 1}" height="${number(plotBottom - top)}"><title>${escapeHtml(bar.title)}</title></rect>`;
      return bar.std === undefined || bar.std === 0 ? [rect] : [rect, errorBar(x + (barWidth - 1) / 2, y(bar.value - bar.std), y(bar.value + bar.std), number)];
    }),
  );
  const legend = chart.series.map((series, index) => {
    const top = legendTop + index * LEGEND_LINE;
    return `<rect class="series-${index % SERIES_COLOURS.length}" x="${PLOT_LEFT}" y="${top}" width="12" height="12"/><text x="${PLOT_LEFT + 18}" y="${top + 10}">${escapeHtml(series.label)}</text>`;
  });
  return [
    `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${chart.id}-title">`,
    `<title id="${chart.id}-title">${escapeHtml(chart.title)}</title>`,
    `<text class="axis-label" x="${PLOT_LEFT}" y="${PLOT_TOP - 12}">${escapeHtml(chart.axisLabel)}</text>`,
    ...grid,
    ...guide,
    ...bars,
    ...groupLabels,
    ...legend,
    '</svg>',
  ].join('\n');
}

/** A vertical line from `low` to `high` (already in pixels) with short caps. */
function errorBar(x: number, low: number, high: number, number: (value: number) => string): string {
  const [left, centre, right] = [number(x - 3), number(x), number(x + 3)];
  return `<path class="error" d="M${centre} ${number(low)}V${number(high)}M${left} ${number(low)}H${right}M${left} ${number(high)}H${right}"/>`;
}
