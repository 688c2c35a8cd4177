/** Tenants: volume, bounce and complaint rates against their thresholds, bulk pause; resume. */
import { useState } from 'preact/hooks';
import { api, type Tenants as TenantsAnswer } from '../api.ts';
import { duration, percent } from '../format.ts';
import { usePoll } from '../poll.ts';

const REFRESH_MS = 10_000;

export function Tenants() {
  const tenants = usePoll(() => api<TenantsAnswer>('/v1/tenants'), REFRESH_MS);
  const [problem, setProblem] = useState<string>();
  const resume = async (tenant: string) => {
    try {
      await api(`/v1/tenants/${encodeURIComponent(tenant)}/resume`, { method: 'POST' });
      setProblem(undefined);
    } catch (err) {
      setProblem(`resume ${tenant}: ${(err as Error).message}`);
    }
    tenants.reload();
  };
  return (
    <section>
      <h2>Tenants</h2>
      {problem && <p class="error">{problem}</p>}
      {tenants.error && <p class="error">{tenants.error.message}</p>}
      {tenants.data && (
        <table id="tenants">
          <thead>
            <tr>
              <th>tenant</th>
              <th>accepted (window)</th>
              <th>hard bounces</th>
              <th>bounce rate / threshold</th>
              <th>complaints</th>
              <th>complaint rate / threshold</th>
              <th>bulk mail</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tenants.data.tenants.map((t) => {
              const judged = t.accepted >= t.min_volume;
              const over = (rate: number, limit: number) => (judged && rate > limit ? 'over' : '');
              return (
                <tr key={t.tenant} data-tenant={t.tenant}>
                  <td>{t.tenant}</td>
                  <td title={`window ${duration(t.window_ms)}; judged from ${t.min_volume}`}>{t.accepted}</td>
                  <td>{t.hard_bounces}</td>
                  <td class={over(t.bounce_rate, t.bounce_rate_threshold)}>
                    {percent(t.bounce_rate)} / {percent(t.bounce_rate_threshold)}
                  </td>
                  <td>{t.complaints}</td>
                  <td class={over(t.complaint_rate, t.complaint_rate_threshold)}>
                    {percent(t.complaint_rate)} / {percent(t.complaint_rate_threshold)}
                  </td>
                  <td class={t.paused ? 'state suspended' : 'state active'}>
                    {t.paused
                      ? `paused since ${new Date(t.paused.since).toLocaleString()}: ${t.paused.reason}`
                      : 'sending'}
                  </td>
                  <td>
                    {t.paused && (
                      <button type="button" class="resume" onClick={() => resume(t.tenant)}>
                        resume
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
