// Small hooks the views share: a request tied to the component's life, and a callback when an
// element scrolls into view (infinite scroll).

import { type Inputs, useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { FeedItem } from '../api/client';
import { liveFeed } from '../live/feed';

export type Loaded<T> =
  | { readonly status: 'loading' }
  | { readonly status: 'ok'; readonly data: T }
  | { readonly status: 'error'; readonly error: unknown };

/**
 * Runs `load` when the inputs change (and on retry), aborting the request of the previous inputs
 * and of an unmounted view, so a late answer never lands on the wrong page.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, inputs: Inputs): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  // Inputs: the caller names what `load` depends on.
  useEffect(() => {
    const controller = new AbortController();
    setState({ status: 'loading' });
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ status: 'ok', data });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => controller.abort();
  }, [...inputs, attempt]);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  return [state, retry];
}

/**
 * Calls `onVisible` when the element comes into view while enabled. Observing starts again when
 * `generation` changes (a page was added), so an element still in view after a page loads asks
 * for the next one too.
 */
export function useWhenVisible<E extends Element>(
  onVisible: () => void,
  enabled: boolean,
  generation: unknown,
  rootMargin = '300px',
) {
  const ref = useRef<E>(null);
  const callback = useRef(onVisible);
  callback.current = onVisible;
  useEffect(() => {
    const element = ref.current;
    if (!enabled || element === null) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) callback.current();
      },
      { rootMargin },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [enabled, rootMargin, generation]);
  return ref;
}

/** Calls `listener` for every live event while the component is mounted. */
export function useLiveEvents(listener: (event: FeedItem) => void): void {
  const current = useRef(listener);
  current.current = listener;
  useEffect(() => liveFeed.onEvent((event) => current.current(event)), []);
}
