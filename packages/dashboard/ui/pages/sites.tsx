/**
 * Sites: queue, in flight, delivered per minute (the last minutes, every relay), limits with the
 * layer that set each, suspension with time left, the latest distinct 4xx/5xx replies; suspend /
 * resume.
 */
import { useState } from 'preact/hooks';
import { api, type Site, type SiteReply, type Sites as SitesAnswer } from '../api.ts';
import { duration, reply, time } from '../format.ts';
import { usePoll } from '../poll.ts';

const REFRESH_MS = 5_000;
const SUSPEND_FOR = ['15m', '1h', '4h'] as const;
/** Replies shown per site (the API gives a few more). */
const REPLIES_SHOWN = 3;

export function Sites() {
  const sites = usePoll(() => api<SitesAnswer>('/v1/sites'), REFRESH_MS);
  const [problem, setProblem] = useState<string>();
  const act = async (site: string, verb: 'suspend' | 'resume', body?: unknown) => {
    try {
      await api(`/v1/sites/${encodeURIComponent(site)}/${verb}`, { method: 'POST', body });
      setProblem(undefined);
    } catch (err) {
      setProblem(`${verb} ${site}: ${(err as Error).message}`);
    }
    sites.reload();
  };
  return (
    <section>
      <h2>Sites</h2>
      {problem && <p class="error">{problem}</p>}
      {sites.error && <p class="error">{sites.error.message}</p>}
      {sites.data && (
        <table id="sites">
          <thead>
            <tr>
              <th>site</th>
              <th>state</th>
              <th>ready</th>
              <th>scheduled</th>
              <th>in flight</th>
              <th>oldest</th>
              <th>delivered/min</th>
              <th>max connections</th>
              <th>message rate</th>
              <th>connection rate</th>
              <th>last replies</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sites.data.sites.map((s) => (
              <SiteRow key={s.site} site={s} act={act} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function SiteRow({
  site: s,
  act,
}: {
  site: Site;
  act: (site: string, verb: 'suspend' | 'resume', body?: unknown) => void;
}) {
  const [forTime, setFor] = useState<string>('1h');
  const left = s.suspended_until ? Date.parse(s.suspended_until) - Date.now() : 0;
  return (
    <tr data-site={s.site}>
      <td>{s.site}</td>
      <td class={`state ${s.state}`}>
        {s.state}
        {s.state === 'suspended' && <span class="left"> ({duration(left)} left)</span>}
        {s.slowed && (
          <span class="left">
            {' '}
            at {s.slowed.rate} ({duration(Date.parse(s.slowed.until) - Date.now())} left)
          </span>
        )}
      </td>
      <td>{s.queue.ready}</td>
      <td>{s.queue.scheduled}</td>
      <td>{s.queue.in_flight}</td>
      <td>{s.queue.oldest_age_ms ? duration(s.queue.oldest_age_ms) : '—'}</td>
      <td
        class="rate"
        title={`last ${s.recent.minutes} min: ${s.recent.delivered} delivered, ${s.recent.deferred} deferred, ${s.recent.bounced} bounced`}
      >
        {s.recent.delivered_per_minute}
      </td>
      <Limit
        class="max-connections"
        value={s.limits.max_connections}
        layer={s.limits.from.max_connections}
        title={`starts at ${Math.min(s.limits.initial_connections, s.limits.max_connections)}`}
      />
      <Limit
        class="message-rate"
        value={s.limits.max_message_rate ?? 'no limit'}
        layer={s.limits.from.max_message_rate}
      />
      <Limit
        class="connection-rate"
        value={s.limits.max_connection_rate ?? 'no limit'}
        layer={s.limits.from.max_connection_rate}
      />
      <td class="replies">
        {s.last_replies.length === 0 ? (
          '—'
        ) : (
          <ul>
            {s.last_replies.slice(0, REPLIES_SHOWN).map((r) => (
              <ReplyItem key={`${r.time}${r.text}`} reply={r} />
            ))}
          </ul>
        )}
      </td>
      <td class="actions">
        {s.state === 'active' ? (
          <>
            <select
              value={forTime}
              onChange={(e) => setFor((e.target as HTMLSelectElement).value)}
              aria-label="suspend for"
            >
              {SUSPEND_FOR.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
            <button
              type="button"
              class="suspend"
              onClick={() => act(s.site, 'suspend', { duration: forTime, reason: 'dashboard' })}
            >
              suspend
            </button>
          </>
        ) : (
          <button type="button" class="resume" onClick={() => act(s.site, 'resume')}>
            resume
          </button>
        )}
      </td>
    </tr>
  );
}

/** A limit and, beneath it, the layer that set it (built-in, defaults, provider:…, site:…). */
function Limit(props: { class: string; value: string | number; layer: string; title?: string }) {
  return (
    <td class={`limit ${props.class}`} title={props.title}>
      {props.value}
      <small class="layer">{props.layer}</small>
    </td>
  );
}

function ReplyItem({ reply: r }: { reply: SiteReply }) {
  return (
    <li class={r.outcome} title={`${r.outcome} at ${time(r.time)}`}>
      {reply({ ...r, stage: '' })}
    </li>
  );
}
