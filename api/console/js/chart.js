// Time-series charts with uPlot (built into /console/vendor/ by `make console`): the mean of
// each signal as a line, the min-max envelope of each bucket as a band (so a spike shorter
// than a bucket still shows), anomalies as shaded spans over the plot. Dragging across a
// chart zooms into that span (the page fetches it again at the finer resolution).
import { currentLang, t, term } from "./i18n.js";
import { el } from "./ui.js";

const COLOURS = ["#4cc9f0", "#f72585", "#ffd166", "#06d6a0", "#b388ff", "#ff9f43"];

// "J3.temperature" as words: "J3 Motor temperature"; other signals keep their name.
export function signalLabel(signal) {
  const [joint, quantity] = signal.split(".");
  return /^J\d$/.test(joint) && quantity ? `${joint} ${term("quantity", quantity)}` : signal;
}

export function chartsAvailable() { return typeof window.uPlot === "function"; }

export function missingBuild(node) {
  const p = el("p", "build-missing");
  p.append(t("chart.no_build"), " ", el("code", null, "make console"));
  node.replaceChildren(p);
}

// Series may have different sample times (raw points): one x axis, nulls where a series
// has no point.
function align(series) {
  const xs = [...new Set(series.flatMap((s) => s.t))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const cols = series.map((s) => {
    const col = { avg: new Array(xs.length).fill(null), min: new Array(xs.length).fill(null),
                  max: new Array(xs.length).fill(null) };
    s.t.forEach((x, i) => { const k = at.get(x); col.avg[k] = s.avg[i]; col.min[k] = s.min[i]; col.max[k] = s.max[i]; });
    return col;
  });
  return { xs, cols };
}

// Tick labels in the viewer's language and time zone, 24 h clock: dates when the range
// spans days, times of day otherwise.
function timeTicks(u, splits) {
  const span = u.scales.x.max - u.scales.x.min;
  const opts = span > 2 * 86400 ? { month: "2-digit", day: "2-digit" }
    : span > 600 ? { hour: "2-digit", minute: "2-digit", hour12: false }
      : { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  return splits.map((s) => new Date(s * 1000).toLocaleString(currentLang(), opts));
}

function hexAlpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

// bands: [{start: epoch s, end: epoch s | null, label}]
export function drawChart(node, data, { title, bands = [], width, height = 200, onZoom, label }) {
  const { xs, cols } = align(data.series);
  const bucketed = data.bucket_s !== null;
  const series = [{}];
  const plotData = [xs];
  const uBands = [];
  data.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    series.push({ label: label ? label(s.signal) : s.signal, stroke: colour, width: 1.5,
                  spanGaps: false, points: { show: false } });
    plotData.push(cols[i].avg);
    if (bucketed) {
      const hi = series.length;
      series.push({ label: `${s.signal} max`, stroke: "transparent", width: 0, points: { show: false } });
      series.push({ label: `${s.signal} min`, stroke: "transparent", width: 0, points: { show: false } });
      plotData.push(cols[i].max, cols[i].min);
      uBands.push({ series: [hi, hi + 1], fill: hexAlpha(colour, 0.18) });
    }
  });
  const overlay = [];
  const opts = {
    title, width: width || Math.max(node.clientWidth, 300), height,
    series, bands: uBands, legend: { show: false },
    scales: { x: { time: true, range: () => [Date.parse(data.from) / 1000, Date.parse(data.to) / 1000] } },
    axes: [{ stroke: "#8b98a8", grid: { stroke: "#243040" }, values: timeTicks },
           { stroke: "#8b98a8", grid: { stroke: "#243040" }, size: 50 }],
    cursor: { drag: { x: true, y: false } },
    hooks: {
      draw: [(u) => {
        for (const div of overlay) div.remove();
        overlay.length = 0;
        const [lo, hi] = [u.scales.x.min, u.scales.x.max];
        for (const b of bands) {
          const s = Math.max(b.start, lo), e = Math.min(b.end ?? hi, hi);
          if (e <= s) continue;
          const div = el("div", "anomaly-band");
          div.title = b.label;
          div.dataset.anomaly = b.id;
          const left = u.valToPos(s, "x"), right = u.valToPos(e, "x");
          Object.assign(div.style, { left: `${left}px`, width: `${Math.max(right - left, 2)}px` });
          u.over.append(div);
          overlay.push(div);
        }
      }],
      setSelect: [(u) => {
        if (!onZoom || u.select.width < 5) return;
        const from = u.posToVal(u.select.left, "x"), to = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        onZoom(from, to);
      }],
    },
  };
  node.replaceChildren();
  const chart = new window.uPlot(opts, plotData, node);
  const legend = el("div", "legend");
  data.series.forEach((s, i) => {
    const item = el("span", "legend-item", label ? label(s.signal) : s.signal);
    item.style.setProperty("--c", COLOURS[i % COLOURS.length]);
    legend.append(item);
  });
  if (!xs.length) legend.append(el("span", "empty", t("chart.no_data")));
  node.append(legend);
  return chart;
}

// A KPI trend: one value per period (x = the period's index, labelled by the period), lines
// with points so a single period still shows, targets dashed. series: [{label, values,
// target?: bool}]; fmt formats a value for the y axis.
// yRange: [min, max] fixed (shares: 0 to 100 %), or null: from 0 to a little above the data.
export function drawTrend(node, { title, labels, series, fmt, width, height = 220, yRange = null }) {
  const uSeries = [{}];
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    uSeries.push({ label: s.label, stroke: s.target ? "#8b98a8" : colour, width: s.target ? 1 : 2,
                   dash: s.target ? [6, 4] : undefined, spanGaps: false,
                   points: { show: !s.target, size: 6, fill: colour } });
  });
  const xs = labels.map((_, i) => i);
  const opts = {
    title, width: width || Math.max(node.clientWidth, 300), height, series: uSeries, legend: { show: false },
    scales: { x: { time: false, range: () => [-0.3, Math.max(labels.length - 0.7, 0.7)] },
              y: { range: (u, lo, hi) => yRange || [0, hi > 0 ? hi * 1.15 : 1] } },
    axes: [{ stroke: "#8b98a8", grid: { stroke: "#243040" }, incrs: [1], space: 30,
             values: (u, splits) => splits.map((v) => labels[v] ?? "") },
           { stroke: "#8b98a8", grid: { stroke: "#243040" }, size: 64,
             values: (u, splits) => splits.map(fmt) }],
    cursor: { drag: { x: false, y: false } },
  };
  node.replaceChildren();
  const chart = new window.uPlot(opts, [xs, ...series.map((s) => s.values)], node);
  const legend = el("div", "legend");
  series.forEach((s, i) => {
    const item = el("span", `legend-item${s.target ? " target" : ""}`, s.label);
    item.style.setProperty("--c", s.target ? "#8b98a8" : COLOURS[i % COLOURS.length]);
    legend.append(item);
  });
  if (series.every((s) => s.target || s.values.every((v) => v === null))) {
    legend.append(el("span", "empty", t("chart.no_data")));
  }
  node.append(legend);
  return chart;
}
