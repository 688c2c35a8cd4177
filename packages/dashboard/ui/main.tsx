/**
 * The dashboard app: a hash router over five pages (overview, sites, tenants, message, bounces)
 * and the admin key form, shown when the API answers 401 (the key is kept in sessionStorage, for
 * this tab only). Every datum comes from the HTTP API on the same origin (api.ts).
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AUTH_NEEDED_EVENT, adminKey, keyNeeded } from './api.ts';
import { Bounces } from './pages/bounces.tsx';
import { Message } from './pages/message.tsx';
import { Overview } from './pages/overview.tsx';
import { Sites } from './pages/sites.tsx';
import { Tenants } from './pages/tenants.tsx';
import './style.css';

const PAGES = {
  overview: { title: 'Overview', view: Overview },
  sites: { title: 'Sites', view: Sites },
  tenants: { title: 'Tenants', view: Tenants },
  message: { title: 'Message', view: Message },
  bounces: { title: 'Bounces', view: Bounces },
} as const;
type PageName = keyof typeof PAGES;

const pageOf = (hash: string): PageName => {
  const name = hash.replace(/^#\/?/, '');
  return name in PAGES ? (name as PageName) : 'overview';
};

function App() {
  const [page, setPage] = useState<PageName>(pageOf(location.hash));
  /** undefined until /ui/access.json answered: no API request before it (none refused with 401). */
  const [needKey, setNeedKey] = useState<boolean | undefined>(undefined);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    keyNeeded().then(
      (needed) => setNeedKey(needed && !adminKey.get()),
      () => setNeedKey(!adminKey.get()),
    );
  }, []);
  useEffect(() => {
    const onHash = () => setPage(pageOf(location.hash));
    const onAuth = () => setNeedKey(true);
    window.addEventListener('hashchange', onHash);
    window.addEventListener(AUTH_NEEDED_EVENT, onAuth);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener(AUTH_NEEDED_EVENT, onAuth);
    };
  }, []);
  const View = PAGES[page].view;
  return (
    <>
      <header>
        <h1>Herald</h1>
        <nav>
          {(Object.keys(PAGES) as PageName[]).map((name) => (
            <a key={name} href={`#/${name}`} class={name === page ? 'current' : ''} id={`nav-${name}`}>
              {PAGES[name].title}
            </a>
          ))}
        </nav>
        {adminKey.get() && (
          <button
            type="button"
            class="link"
            onClick={() => {
              adminKey.clear();
              setNeedKey(true);
            }}
          >
            forget key
          </button>
        )}
      </header>
      <main>
        {needKey === undefined ? null : needKey ? (
          <KeyForm
            onKey={(key) => {
              adminKey.set(key);
              setNeedKey(false);
              setAttempt(attempt + 1);
            }}
          />
        ) : (
          <View key={`${page}-${attempt}`} />
        )}
      </main>
    </>
  );
}

function KeyForm({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return (
    <form
      id="key-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) onKey(key.trim());
      }}
    >
      <p>
        This dashboard reads Herald's HTTP API: enter an admin key (api.admin_keys). It is kept for this tab
        only.
      </p>
      <input
        type="password"
        name="key"
        autocomplete="off"
        value={key}
        onInput={(e) => setKey((e.target as HTMLInputElement).value)}
      />
      <button type="submit">open</button>
    </form>
  );
}

render(<App />, document.getElementById('app')!);
