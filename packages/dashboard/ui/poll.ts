/** usePoll: loads data now and every `everyMs`; answers the data, an error, and a reload. */
import { useCallback, useEffect, useState } from 'preact/hooks';

export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const reload = useCallback(() => {
    load().then(
      (value) => {
        setData(value);
        setError(undefined);
      },
      (err: Error) => setError(err),
    );
  }, deps);
  useEffect(() => {
    reload();
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [reload]);
  return { data, error, reload };
}
