/** A message: search by id or by recipient (the event stream's window), then its story. */
import { useState } from 'preact/hooks';
import { api, type RecipientMessages, type Story } from '../api.ts';
import { reply, time } from '../format.ts';

type Found = RecipientMessages['messages'][number];

export function Message() {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<Found[]>();
  const [story, setStory] = useState<Story>();
  const [problem, setProblem] = useState<string>();
  const show = async (id: string) => {
    try {
      setStory(await api<Story>(`/v1/messages/${encodeURIComponent(id)}`));
      setProblem(undefined);
    } catch (err) {
      setStory(undefined);
      setProblem((err as Error).message);
    }
  };
  const search = async (e: Event) => {
    e.preventDefault();
    const q = query.trim();
    setStory(undefined);
    setFound(undefined);
    if (!q.includes('@')) return show(q);
    try {
      const answer = await api<RecipientMessages>(`/v1/activity/messages?recipient=${encodeURIComponent(q)}`);
      setFound(answer.messages);
      setProblem(
        answer.messages.length === 0 ? 'no message to that recipient in the event window' : undefined,
      );
      if (answer.messages.length === 1) await show(answer.messages[0]!.id);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <section>
      <h2>Message</h2>
      <form id="message-search" onSubmit={search}>
        <input
          name="q"
          placeholder="message id or recipient address"
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        <button type="submit">search</button>
      </form>
      {problem && <p class="error">{problem}</p>}
      {found && found.length > 1 && (
        <table id="found">
          <tbody>
            {found.map((m) => (
              <tr key={m.id}>
                <td>
                  <button type="button" class="link" onClick={() => show(m.id)}>
                    {m.id}
                  </button>
                </td>
                <td>{m.tenant}</td>
                <td>{m.from}</td>
                <td>{time(m.accepted_at)}</td>
                <td>{m.state ?? 'queued'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {story && <StoryView story={story} />}
    </section>
  );
}

function StoryView({ story }: { story: Story }) {
  return (
    <div id="story">
      <p>
        <b>{story.id}</b> from {story.from || '<>'} (tenant {story.tenant})
      </p>
      <table id="story-recipients">
        <thead>
          <tr>
            <th>recipient</th>
            <th>state</th>
            <th>attempts</th>
            <th>last reply</th>
            <th>why it waits</th>
          </tr>
        </thead>
        <tbody>
          {story.recipients.map((r) => (
            <tr key={r.address}>
              <td>{r.address}</td>
              <td class={`state ${r.state}`}>{r.state}</td>
              <td>{r.attempts}</td>
              <td>{reply(r.reply)}</td>
              <td>
                {r.waiting
                  ? `${r.waiting.reason}${r.waiting.until ? ` until ${time(r.waiting.until)}` : ''}`
                  : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>attempts</h3>
      <ol id="story-attempts">
        {story.attempts.map((a) => (
          <li key={a.time}>
            {time(a.time)} {a.domain}{' '}
            {a.host
              ? `via ${a.host.hostname} [${a.host.address}]:${a.host.port}${a.host.tls ? ' TLS' : ''}`
              : '(no host)'}
            : {a.results.map((r) => `${r.address} ${reply(r.reply)}`).join('; ')}
          </li>
        ))}
      </ol>
    </div>
  );
}
