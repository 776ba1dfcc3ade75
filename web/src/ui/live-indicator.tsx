// The connection state of the live feed, in the page header.

import { useEffect, useState } from 'preact/hooks';
import { type LiveState, liveFeed } from '../live/feed';

const TEXT: Record<LiveState, string> = { live: 'Live', connecting: 'Connecting…', offline: 'Offline' };

export function LiveIndicator() {
  const [state, setState] = useState<LiveState>(liveFeed.state);
  useEffect(() => {
    setState(liveFeed.state);
    return liveFeed.onState(setState);
  }, []);
  return (
    <span class={`live live-${state}`} role="status" aria-label="Live updates" data-state={state}>
      <span class="dot" aria-hidden="true" />
      {TEXT[state]}
    </span>
  );
}
