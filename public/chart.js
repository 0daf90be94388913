// The trend chart: uPlot with the average as a line, p95 dashed, and a min–max band, values with
// their units in the legend, arrow keys to move the cursor, and the change point of a selected
// regression drawn as a vertical marker by a plugin. The container carries what was drawn as
// data attributes (data-points, data-change-point, data-change-point-x) for tests and tools.
import uPlot from './vendor/uPlot.esm.js';
import { dateTime, fmt } from './format.js';

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Draws a dashed vertical line at the change point, and notes where it landed. */
function changePointPlugin(chart) {
  return {
    hooks: {
      draw: [
        (u) => {
          const el = chart.container;
          const cp = chart.changePoint;
          delete el.dataset.changePoint;
          delete el.dataset.changePointX;
          if (cp === null) return;
          const x = u.valToPos(cp / 1000, 'x', true);
          const { left, top, width, height } = u.bbox;
          if (!(x >= left && x <= left + width)) return;
          const dpr = devicePixelRatio || 1;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = css('--chart-cp');
          ctx.fillStyle = css('--chart-cp');
          ctx.lineWidth = 2 * dpr;
          ctx.setLineDash([6 * dpr, 4 * dpr]);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
          const label = 'change point';
          const w = ctx.measureText(label).width;
          // Label on the side with room for it.
          const tx = x + 6 * dpr + w < left + width ? x + 6 * dpr : x - 6 * dpr - w;
          ctx.fillText(label, tx, top + 14 * dpr);
          ctx.restore();
          el.dataset.changePoint = new Date(cp).toISOString();
          el.dataset.changePointX = String(Math.round((x - left) / dpr));
        },
      ],
    },
  };
}

/** Until the pointer or the arrow keys pick a point, the legend shows the latest one. */
function latestInLegend() {
  const latest = (u) => {
    if (u.cursor.idx === null || u.cursor.idx === undefined) {
      const avg = u.data[1];
      let i = avg.length - 1;
      while (i > 0 && avg[i] === null) i--;
      if (i >= 0) u.setLegend({ idx: i }, false);
    }
  };
  return { hooks: { ready: [latest], setCursor: [latest] } };
}

export class TrendChart {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
    /** @type {uPlot|null} */
    this.plot = null;
    /** Epoch ms of the marker, or null. */
    this.changePoint = null;
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(container);
    container.addEventListener('keydown', (e) => this.onKey(e));
    // What the arrow keys land on, read out by screen readers (the legend is not announced).
    this.announcer = document.createElement('p');
    this.announcer.className = 'sr-only';
    this.announcer.setAttribute('aria-live', 'polite');
    container.after(this.announcer);
    /** The unit of the values drawn. */
    this.unit = 'none';
  }

  size() {
    const width = Math.max(280, this.container.clientWidth);
    const height = window.matchMedia('(max-width: 700px)').matches ? 240 : 320;
    return { width, height };
  }

  fit() {
    if (!this.plot) return;
    const { width, height } = this.size();
    if (width !== this.plot.width || height !== this.plot.height)
      this.plot.setSize({ width, height });
  }

  /**
   * @param {{ points: {t: string, avg: number, min: number, max: number, p95: number}[],
   *   unit: import('./format.js').Unit, from: number, to: number, resolutionMs: number,
   *   changePoint: number|null, label: string }} d
   */
  draw(d) {
    const xs = [];
    const cols = { avg: [], p95: [], max: [], min: [] };
    const times = d.points.map((p) => Date.parse(p.t));
    // A stretch without data is a gap in the lines, not a straight line across it. Sparse data
    // (samples further apart than the resolution) has its own spacing: gaps are judged on that.
    const spacing = times
      .slice(1)
      .map((t, i) => t - times[i])
      .sort((a, b) => a - b);
    const step = Math.max(d.resolutionMs, spacing[Math.floor(spacing.length / 2)] ?? 0);
    let prev = null;
    for (const [i, p] of d.points.entries()) {
      const t = times[i];
      if (prev !== null && t - prev > 2.5 * step) {
        xs.push((prev + step) / 1000);
        for (const k of Object.keys(cols)) cols[k].push(null);
      }
      xs.push(t / 1000);
      for (const k of Object.keys(cols)) cols[k].push(p[k]);
      prev = t;
    }
    this.changePoint = d.changePoint;
    const unit = d.unit;
    this.unit = unit;
    const value = (_u, v) => fmt(v, unit, true);
    const opts = {
      ...this.size(),
      plugins: [changePointPlugin(this), latestInLegend()],
      scales: { x: { time: true, range: () => [d.from / 1000, d.to / 1000] } },
      series: [
        { label: 'Time', value: (_u, v) => (v === null ? '—' : dateTime(v * 1000)) },
        { label: 'avg', stroke: css('--chart-avg'), width: 2, value },
        { label: 'p95', stroke: css('--chart-p95'), width: 2, dash: [6, 4], value },
        // Min and max draw no line of their own: the band between them shows them.
        { label: 'max', stroke: 'transparent', width: 1, value },
        { label: 'min', stroke: 'transparent', width: 1, value },
      ],
      bands: [{ series: [3, 4], fill: css('--chart-band') }],
      axes: [
        {
          stroke: css('--muted'),
          grid: { stroke: css('--chart-grid'), width: 1 },
          ticks: { stroke: css('--chart-grid'), width: 1 },
        },
        {
          stroke: css('--muted'),
          size: 76,
          grid: { stroke: css('--chart-grid'), width: 1 },
          ticks: { stroke: css('--chart-grid'), width: 1 },
          values: (_u, splits) => splits.map((v) => fmt(v, unit)),
        },
      ],
    };
    this.plot?.destroy();
    this.container.textContent = '';
    this.plot = new uPlot(opts, [xs, cols.avg, cols.p95, cols.max, cols.min], this.container);
    this.container.setAttribute('aria-label', d.label);
    this.container.dataset.points = String(d.points.length);
  }

  /** Moves the marker without redrawing the data. */
  setChangePoint(ms) {
    this.changePoint = ms;
    this.plot?.redraw(false, false);
  }

  clear() {
    this.plot?.destroy();
    this.plot = null;
    this.container.textContent = '';
    this.container.dataset.points = '0';
    delete this.container.dataset.changePoint;
    delete this.container.dataset.changePointX;
  }

  /** Left/right (Home/End) move the cursor from point to point, so keyboards read values too. */
  onKey(e) {
    const u = this.plot;
    if (!u || !['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    const xs = u.data[0];
    const avg = u.data[1];
    if (xs.length === 0) return;
    e.preventDefault();
    let i = u.cursor.idx ?? (e.key === 'ArrowLeft' ? xs.length : -1);
    const step = e.key === 'ArrowLeft' || e.key === 'End' ? -1 : 1;
    if (e.key === 'Home') i = -1;
    if (e.key === 'End') i = xs.length;
    do i += step;
    while (i >= 0 && i < xs.length && avg[i] === null);
    i = Math.min(xs.length - 1, Math.max(0, i));
    u.setCursor({ left: u.valToPos(xs[i], 'x'), top: u.valToPos(avg[i] ?? 0, 'y') });
    const v = (k) => fmt(u.data[k][i], this.unit, true);
    this.announcer.textContent = `${dateTime(xs[i] * 1000)}: average ${v(1)}, p95 ${v(2)}, max ${v(3)}, min ${v(4)}`;
  }
}
