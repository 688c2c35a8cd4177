/** Bounces: reasons per minute (the bounce classifier's reason of each reply), top reasons per domain. */
import { type Activity, api } from '../api.ts';
import { Chart } from '../chart.tsx';
import { usePoll } from '../poll.ts';

const REFRESH_MS = 10_000;
const MINUTES = 60;
const MS_PER_S = 1000;

export function Bounces() {
  const activity = usePoll(() => api<Activity>(`/v1/activity?minutes=${MINUTES}`), REFRESH_MS);
  const a = activity.data;
  const reasons = a ? [...new Set(a.bounce_reasons.flatMap((m) => Object.keys(m.reasons)))].sort() : [];
  return (
    <section>
      <h2>Bounces</h2>
      {activity.error && <p class="error">{activity.error.message}</p>}
      {a && reasons.length === 0 && <p id="no-bounces">No bounce in the last {MINUTES} minutes.</p>}
      {a && reasons.length > 0 && (
        <Chart
          id="bounce-reasons"
          title="bounced recipients per minute, by reason"
          xs={a.bounce_reasons.map((m) => m.minute / MS_PER_S)}
          series={reasons.map((reason) => ({
            label: reason,
            values: a.bounce_reasons.map((m) => m.reasons[reason] ?? 0),
          }))}
        />
      )}
      {a && a.top_reasons_by_domain.length > 0 && (
        <table id="top-reasons">
          <thead>
            <tr>
              <th>domain</th>
              <th>bounced</th>
              <th>top reasons</th>
            </tr>
          </thead>
          <tbody>
            {a.top_reasons_by_domain.map((d) => (
              <tr key={d.domain} data-domain={d.domain}>
                <td>{d.domain}</td>
                <td>{d.bounced}</td>
                <td>{d.reasons.map((r) => `${r.reason} (${r.count})`).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
