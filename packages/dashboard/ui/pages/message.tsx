/**
 * A message: search by id or by recipient (the event stream's window), then its story. A search
 * by recipient says how far back it reached (`since`) and when its answer is partial (`truncated`:
 * the stream held more than one search reads, so older messages may be missing), and offers to look
 * back further (24 h instead of the default hour). The route has no cursor: "more" is a longer window.
 */
import { useState } from 'preact/hooks';
import { api, type RecipientMessages, type Story } from '../api.ts';
import { reply, time } from '../format.ts';

type Found = RecipientMessages['messages'][number];
/** The route's default window and the longest it takes (GET /v1/activity/messages?minutes=). */
const DEFAULT_MINUTES = 60;
const LONGEST_MINUTES = 24 * 60;
/** The route lists at most this many messages, newest first. */
const MAX_LISTED = 100;

interface SearchWindow {
  minutes: number;
  since: number | null;
  truncated: boolean;
  listed: number;
}

export function Message() {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<Found[]>();
  const [story, setStory] = useState<Story>();
  const [problem, setProblem] = useState<string>();
  const [searched, setSearched] = useState<SearchWindow>();
  const show = async (id: string) => {
    try {
      setStory(await api<Story>(`/v1/messages/${encodeURIComponent(id)}`));
      setProblem(undefined);
    } catch (err) {
      setStory(undefined);
      setProblem((err as Error).message);
    }
  };
  const byRecipient = async (recipient: string, minutes: number) => {
    try {
      const answer = await api<RecipientMessages>(
        `/v1/activity/messages?recipient=${encodeURIComponent(recipient)}&minutes=${minutes}`,
      );
      setFound(answer.messages);
      setSearched({
        minutes,
        since: answer.since,
        truncated: answer.truncated,
        listed: answer.messages.length,
      });
      setProblem(
        answer.messages.length === 0 ? 'no message to that recipient in the event window' : undefined,
      );
      if (answer.messages.length === 1) await show(answer.messages[0]!.id);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  const search = async (e: Event) => {
    e.preventDefault();
    const q = query.trim();
    setStory(undefined);
    setFound(undefined);
    setSearched(undefined);
    if (!q.includes('@')) return show(q);
    return byRecipient(q, DEFAULT_MINUTES);
  };
  const further = async () => {
    setStory(undefined);
    setFound(undefined);
    await byRecipient(query.trim(), LONGEST_MINUTES);
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
      {searched && <WindowNote searched={searched} further={further} />}
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

/** How far back a search by recipient reached, whether its answer is partial, and "more". */
function WindowNote({ searched, further }: { searched: SearchWindow; further: () => void }) {
  const reach = searched.since === null ? '' : ` (events back to ${time(searched.since)})`;
  return (
    <p id="search-window" class={searched.truncated ? 'note partial' : 'note'}>
      searched the last {searched.minutes} minutes of the event stream{reach}
      {searched.truncated &&
        '. Partial answer: the stream held more events than one search reads, so older messages may be missing'}
      {searched.listed >= MAX_LISTED && `. Only the newest ${MAX_LISTED} messages are listed`}
      {searched.minutes < LONGEST_MINUTES && (
        <>
          {' '}
          <button type="button" class="link" id="search-further" onClick={further}>
            look back 24 hours
          </button>
        </>
      )}
    </p>
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
