/** A uPlot line chart of time series (x: epoch seconds), re-drawn when its data changes. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const CHART_HEIGHT_PX = 240;
const MIN_WIDTH_PX = 320;
const PALETTE = ['#2b7de9', '#1a9c55', '#e0a400', '#d64040', '#8e44ad', '#16a2b8', '#7f8c8d', '#c0392b'];

export interface Series {
  label: string;
  values: number[];
}

export function Chart(props: { title: string; xs: number[]; series: Series[]; id: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = props.series.map((s) => s.label).join('\u0000');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(MIN_WIDTH_PX, el.clientWidth);
    plot.current = new uPlot(
      {
        title: props.title,
        width,
        height: CHART_HEIGHT_PX,
        series: [
          {},
          ...props.series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2 })),
        ],
        axes: [{}, { size: 50 }],
      },
      [props.xs, ...props.series.map((s) => s.values)],
      el,
    );
    return () => plot.current?.destroy();
  }, [labels]);
  useEffect(() => {
    plot.current?.setData([props.xs, ...props.series.map((s) => s.values)]);
  }, [props.xs, props.series]);
  return <div class="chart" id={props.id} ref={box} />;
}
