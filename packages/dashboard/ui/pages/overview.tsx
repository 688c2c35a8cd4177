/** Overview: recipients per minute (live), queue depth, in flight, Redis health. */
import { type Activity, api, readiness, type Sites } from '../api.ts';
import { Chart } from '../chart.tsx';
import { time } from '../format.ts';
import { usePoll } from '../poll.ts';

const REFRESH_MS = 5_000;
const MINUTES = 30;
const MS_PER_S = 1000;

export function Overview() {
  const activity = usePoll(() => api<Activity>(`/v1/activity?minutes=${MINUTES}`), REFRESH_MS);
  const sites = usePoll(() => api<Sites>('/v1/sites'), REFRESH_MS);
  const ready = usePoll(readiness, REFRESH_MS);
  const a = activity.data;
  const sum = (k: 'accepted' | 'delivered' | 'deferred' | 'bounced') =>
    a ? a.minutes.reduce((n, m) => n + m[k], 0) : 0;
  return (
    <section>
      <h2>Overview</h2>
      <div class="cards">
        <Card
          id="queue-depth"
          label="queued"
          value={sites.data ? sites.data.totals.ready + sites.data.totals.scheduled : '…'}
        />
        <Card id="in-flight" label="in flight" value={sites.data?.totals.in_flight ?? '…'} />
        <Card
          id="redis-health"
          label="Redis"
          value={ready.data ? (ready.data.redis ? 'up' : 'DOWN') : ready.error ? 'unknown' : '…'}
          bad={ready.data ? !ready.data.redis : false}
        />
        <Card id="accepted-total" label={`accepted (${MINUTES} min)`} value={sum('accepted')} />
        <Card id="delivered-total" label={`delivered (${MINUTES} min)`} value={sum('delivered')} />
        <Card id="deferred-total" label={`deferred (${MINUTES} min)`} value={sum('deferred')} />
        <Card id="bounced-total" label={`bounced (${MINUTES} min)`} value={sum('bounced')} />
      </div>
      {activity.error && <p class="error">{activity.error.message}</p>}
      {a && (
        <>
          <Chart
            id="per-minute"
            title="recipients per minute"
            xs={a.minutes.map((m) => m.minute / MS_PER_S)}
            series={(['accepted', 'delivered', 'deferred', 'bounced'] as const).map((k) => ({
              label: k,
              values: a.minutes.map((m) => m[k]),
            }))}
          />
          <p class="note">
            Per-minute counters kept by every relay since {time(Math.max(a.kept_since, a.from))}.
          </p>
        </>
      )}
    </section>
  );
}

function Card(props: { id: string; label: string; value: string | number; bad?: boolean }) {
  return (
    <div class={props.bad ? 'card bad' : 'card'} id={props.id}>
      <div class="value">{props.value}</div>
      <div class="label">{props.label}</div>
    </div>
  );
}
